"""The size and age bound: drop the oldest data, count what was dropped, keep the counters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agent.spool import RecordKind, Spool
from tests.agent_spool.helpers import FakeClock, payload_for, read_all


def test_size_bound_drops_the_oldest_segments_and_counts_them(tmp_path: Path) -> None:
    max_bytes = 20_000
    with Spool(tmp_path, fsync=False, max_bytes=max_bytes, segment_bytes=4_000) as spool:
        for _ in range(100):  # ~53 KB of records, far over the bound
            spool.append_with(lambda seq: payload_for(seq, 500), RecordKind.SAMPLES, 10)
        stats = spool.stats()
        on_disk = sum(f.stat().st_size for f in tmp_path.glob("seg-*.log"))
        assert on_disk <= max_bytes
        assert stats.disk_bytes == on_disk
        assert stats.dropped_batches > 0
        assert stats.dropped_samples == 10 * stats.dropped_batches
        assert stats.dropped_events == 0
        remaining = [s for s, _ in spool.pending()]
        # What is left is the newest data, contiguous up to the last append, and it adds up.
        assert remaining == list(range(remaining[0], 101))
        assert remaining[0] == stats.dropped_batches + 1
        assert stats.depth_batches == len(remaining)


def test_drop_counts_events_and_samples_by_kind(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, max_bytes=8_000, segment_bytes=2_000) as spool:
        for i in range(60):
            kind = RecordKind.EVENTS if i % 2 else RecordKind.SAMPLES
            spool.append_with(lambda seq: payload_for(seq, 300), kind, 3 if kind is RecordKind.EVENTS else 5)
        stats = spool.stats()
        dropped = range(1, stats.dropped_batches + 1)
        assert stats.dropped_events == sum(3 for s in dropped if s % 2 == 0)
        assert stats.dropped_samples == sum(5 for s in dropped if s % 2 == 1)


def test_acked_data_is_not_counted_as_dropped(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, max_bytes=8_000, segment_bytes=2_000) as spool:
        for _ in range(10):
            spool.append_with(lambda seq: payload_for(seq, 300), RecordKind.SAMPLES, 1)
        spool.ack(10)
        for _ in range(10):
            spool.append_with(lambda seq: payload_for(seq, 300), RecordKind.SAMPLES, 1)
        assert spool.stats().dropped_batches == 0


def test_drop_counters_persist_across_restart(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=True, max_bytes=8_000, segment_bytes=2_000) as spool:
        for _ in range(40):
            spool.append_with(lambda seq: payload_for(seq, 300), RecordKind.SAMPLES, 4)
        before = spool.stats()
    assert before.dropped_batches > 0
    with Spool(tmp_path, fsync=True, max_bytes=8_000, segment_bytes=2_000) as spool:
        after = spool.stats()
        assert (after.dropped_batches, after.dropped_samples) == (before.dropped_batches, before.dropped_samples)
        assert next(s for s, _ in spool.pending()) == before.dropped_batches + 1


def test_a_record_larger_than_the_bound_rotates_and_is_dropped_alone(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, max_bytes=4_000) as spool:
        spool.append(b"small", RecordKind.EVENTS, 1)
        spool.ack(1)
        big = spool.append(b"x" * 10_000, RecordKind.SAMPLES, 7)
        stats = spool.stats()
        assert (stats.dropped_batches, stats.dropped_samples) == (1, 7)
        assert read_all(spool) == []
        # The spool keeps working: the next record goes to a fresh segment.
        nxt = spool.append(b"after", RecordKind.EVENTS, 1)
        assert nxt == big + 1
        assert read_all(spool) == [(nxt, b"after")]


def test_age_bound_drops_records_older_than_max_age(tmp_path: Path, clock: FakeClock) -> None:
    with Spool(tmp_path, fsync=False, max_age=timedelta(hours=1), clock=clock) as spool:
        for _ in range(3):
            spool.append(b"old", RecordKind.EVENTS, 2)
        clock.advance(timedelta(minutes=50))
        for _ in range(2):
            spool.append(b"newer", RecordKind.SAMPLES, 5)
        assert spool.stats().dropped_batches == 0
        clock.advance(timedelta(minutes=11))  # the first three are now 61 minutes old
        spool.append(b"newest", RecordKind.SAMPLES, 5)
        stats = spool.stats()
        assert (stats.dropped_batches, stats.dropped_events, stats.dropped_samples) == (3, 6, 0)
        assert [s for s, _ in spool.pending()] == [4, 5, 6]
        assert stats.oldest_created == clock.now - timedelta(minutes=11)


def test_age_bound_applies_on_open_and_on_demand(tmp_path: Path, clock: FakeClock) -> None:
    with Spool(tmp_path, fsync=False, max_age=timedelta(days=7), clock=clock) as spool:
        spool.append(b"a", RecordKind.SAMPLES, 1)
        clock.advance(timedelta(days=3))
        spool.append(b"b", RecordKind.SAMPLES, 1)
        clock.advance(timedelta(days=5))
        spool.enforce_bounds()  # an idle agent still ages its spool out
        assert [s for s, _ in spool.pending()] == [2]
    clock.advance(timedelta(days=5))
    with Spool(tmp_path, fsync=False, max_age=timedelta(days=7), clock=clock) as spool:
        assert read_all(spool) == []
        assert spool.stats().dropped_batches == 2
        assert spool.append(b"c", RecordKind.SAMPLES, 1) == 3
