"""History schedule, batch packing and the pre-encoded batches for benchmarks."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np
import pytest

from collector.simulator.batches import EncodeStats, HistorySchedule, HostFeed, encoded_batches
from collector.simulator.trouble import TroubleKind, TroubleSpec
from collector.store.samples import flatten, samples_of
from protos.patrol.v1 import agent_pb2
from tests.simulator.helpers import END, END_MS, fleet_and_plan, trouble_host


def test_schedule_is_fine_recently_and_coarse_before() -> None:
    schedule = HistorySchedule(history=timedelta(days=10), step=timedelta(minutes=5),
                               coarse_step=timedelta(minutes=30), fine_window=timedelta(days=2))
    end = schedule.end_of(END + timedelta(minutes=7, seconds=13))
    assert end == END_MS + 5 * 60_000
    ts = schedule.timestamps(end)
    assert ts[-1] == end and ts[0] > end - 10 * 86_400_000
    gaps = np.diff(ts)
    assert (gaps > 0).all()
    recent = ts[1:] > end - 2 * 86_400_000
    assert set(gaps[recent].tolist()) == {5 * 60_000}
    older = ts[1:] <= end - 2 * 86_400_000 - 30 * 60_000
    assert set(gaps[older].tolist()) == {30 * 60_000}
    assert set(gaps.tolist()) == {5 * 60_000, 30 * 60_000}


def test_schedule_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="coarse_step"):
        HistorySchedule(step=timedelta(minutes=10), coarse_step=timedelta(minutes=1))
    with pytest.raises(ValueError, match="history"):
        HistorySchedule(history=timedelta(days=-1))


def test_host_history_packs_every_point_once_in_time_order() -> None:
    fleet, plan = fleet_and_plan()
    host = fleet.hosts[0]
    feed = HostFeed(host, plan.for_host(host.index), END_MS, batch_samples=5_000)
    schedule = HistorySchedule(history=timedelta(days=3))
    points: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    samples = 0
    for seq, batch in enumerate(feed.history(schedule), start=1):
        message = samples_of(agent_pb2.AgentMessage.FromString(batch.seal(seq)))
        if message is None:
            continue
        assert message.seq == seq
        assert batch.samples <= 5_000
        flat = flatten(message)
        at = 0
        for name, labels, n in zip(flat.names, flat.labels, flat.sizes, strict=True):
            points[(name, labels)].extend(flat.stamps[at:at + n].tolist())
            at += n
        samples += len(flat.values)
    expected = schedule.timestamps(END_MS).tolist()
    assert len(points) == feed.series_count
    assert all(ts == expected for ts in points.values())
    assert samples == feed.history_samples(schedule)


def test_silent_host_history_stops_at_its_silence() -> None:
    fleet, plan = fleet_and_plan()
    host = trouble_host(fleet, plan, TroubleKind.SILENT)
    feed = HostFeed(host, plan.for_host(host.index), END_MS)
    assert feed.silent_from_ms is not None
    last = 0
    for batch in feed.history(HistorySchedule(history=timedelta(days=2))):
        message = samples_of(batch.message)
        if message is not None:
            last = max(last, int(flatten(message).stamps.max()))
        else:
            assert max(e.timestamp_ms for e in batch.message.events.events) <= feed.silent_from_ms
    assert feed.silent_from_ms - 5 * 60_000 < last <= feed.silent_from_ms


def test_encoded_batches_decode_with_hello_first_and_increasing_seqs() -> None:
    stats = EncodeStats()
    per_agent: dict[str, list[agent_pb2.AgentMessage]] = defaultdict(list)
    for agent_id, data in encoded_batches(agents=4, customers=2, end=END, epoch="bench-1",
                                          trouble=TroubleSpec(), batch_samples=3_000, stats=stats):
        per_agent[agent_id].append(agent_pb2.AgentMessage.FromString(data))
    assert len(per_agent) == stats.agents == 4
    samples = events = 0
    for agent_id, messages in per_agent.items():
        hello = messages[0].hello
        assert messages[0].WhichOneof("payload") == "hello"
        assert hello.agent_id == agent_id and hello.spool_epoch == "bench-1" and hello.facts.hostname
        seqs = []
        for m in messages[1:]:
            kind = m.WhichOneof("payload")
            assert kind in ("sample_columns", "events")  # the agent's form of a Samples batch
            seqs.append(getattr(m, kind).seq)
            samples += len(flatten(m.sample_columns).values) if kind == "sample_columns" else 0
            events += len(m.events.events) if kind == "events" else 0
        assert seqs == list(range(1, len(seqs) + 1))
    assert (samples, events) == (stats.samples, stats.events)
    assert samples > 0 and stats.batches == sum(len(m) - 1 for m in per_agent.values())


def test_live_catch_up_is_split_into_bounded_batches() -> None:
    fleet, plan = fleet_and_plan()
    host = fleet.hosts[1]
    feed = HostFeed(host, plan.for_host(host.index), END_MS, batch_samples=1_000)
    due = np.arange(END_MS + 10_000, END_MS + 3_600_000, 10_000, dtype=np.int64)
    batches = feed.live(due, END_MS)
    samples = [b for b in batches if samples_of(b.message) is not None]
    assert len(samples) > 1 and all(0 < b.samples <= 1_000 for b in samples)
    assert sum(b.samples for b in samples) == len(due) * feed.series_count
    assert not any(b.history for b in batches)
