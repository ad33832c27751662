"""Batches evicted by the bound while they are in flight: dropped only if they were never delivered."""

from __future__ import annotations

from pathlib import Path

from agent.spool import RecordKind, Spool
from tests.agent_spool.helpers import payload_for

# Small segments under a small bound: a few appends evict the oldest segment.
BOUND = {"max_bytes": 8_000, "segment_bytes": 2_000}


def _append(spool: Spool, n: int, count: int = 5) -> list[int]:
    return [spool.append_with(lambda seq: payload_for(seq, 300), RecordKind.SAMPLES, count) for _ in range(n)]


def _send(spool: Spool, after_seq: int, limit: int) -> list[int]:
    """What the transport does: read the next records past what it already sent, and send them."""
    return [seq for seq, _payload in spool.pending(after_seq=after_seq, limit=limit)]


def _evict_after_sending(spool: Spool, sent: int) -> int:
    """Spool 10 batches, send the first ``sent``, spool 40 more (evicting them); the drop count then."""
    _append(spool, 10)
    assert _send(spool, after_seq=0, limit=sent) == list(range(1, sent + 1))
    _append(spool, 40)
    return spool.stats().dropped_batches


def test_a_batch_evicted_while_in_flight_and_then_acked_is_not_a_drop(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, **BOUND) as spool:
        _append(spool, 10)
        sent = _send(spool, after_seq=0, limit=10)
        assert sent == list(range(1, 11))
        # The collector is slow to ack: the agent keeps spooling and the bound evicts the sent batches.
        _append(spool, 40)
        evicted = spool.stats()
        assert evicted.dropped_batches >= 10  # the sent batches are among the evicted ones
        # Then the ack for the in-flight batches arrives: they reached the collector after all.
        spool.ack(10)
        stats = spool.stats()
        assert stats.dropped_batches == evicted.dropped_batches - 10
        assert stats.dropped_samples == 5 * stats.dropped_batches
        # What is left to send starts right after the truly dropped batches.
        next_seq = next(seq for seq, _ in spool.pending(after_seq=10))
        assert next_seq == 10 + stats.dropped_batches + 1


def test_an_ack_refunds_only_the_batches_it_covers(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, **BOUND) as spool:
        evicted = _evict_after_sending(spool, 10)
        spool.ack(4)  # only 1..4 are known to have arrived
        assert spool.stats().dropped_batches == evicted - 4
        spool.ack(4)  # a repeated ack refunds nothing twice
        assert spool.stats().dropped_batches == evicted - 4


def test_evicted_batches_that_were_never_sent_stay_dropped_after_a_later_ack(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, **BOUND) as spool:
        evicted = _evict_after_sending(spool, 3)  # only 1..3 went out
        spool.ack(3)
        assert spool.stats().dropped_batches == evicted - 3


def test_in_flight_batches_of_a_stream_that_ended_stay_dropped(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, **BOUND) as spool:
        evicted = _evict_after_sending(spool, 10)
        # The stream broke: the transport reconnects and replays from the last ack (0).
        resent = _send(spool, after_seq=0, limit=5)
        assert resent[0] > 10
        # An ack on the new stream says nothing about batches sent on the old one.
        spool.ack(resent[-1])
        assert spool.stats().dropped_batches == evicted


def test_refunded_counters_persist_across_restart(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=True, **BOUND) as spool:
        _evict_after_sending(spool, 10)
        spool.ack(10)
        before = spool.stats()
    with Spool(tmp_path, fsync=True, **BOUND) as spool:
        after = spool.stats()
    assert (after.dropped_batches, after.dropped_samples) == (before.dropped_batches, before.dropped_samples)
