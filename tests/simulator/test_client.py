"""The protocol client against a real grpc.aio server on loopback (tests/simulator/fake_collector.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import grpc
import pytest

from collector.simulator import (
    AgentRejected,
    ClientPolicy,
    CollectorUnreachable,
    ProgressInfo,
    SimulationSummary,
    TroubleSpec,
    simulate,
)
from collector.store.samples import flatten
from tests.simulator.fake_collector import FakeCollector, Faults

T = TypeVar("T")
FAST = ClientPolicy(backoff_initial=0.02, backoff_max=0.2, give_up_after=10.0, close_timeout=2.0)


def run_against(faults: Faults, body: Callable[[FakeCollector], Awaitable[T]]) -> tuple[T, FakeCollector]:
    async def main() -> tuple[T, FakeCollector]:
        collector = FakeCollector(faults)
        await collector.start()
        try:
            return await asyncio.wait_for(body(collector), timeout=60), collector
        finally:
            await collector.stop()

    return asyncio.run(main())


def small_run(collector: FakeCollector, **kwargs: object) -> Coroutine[Any, Any, SimulationSummary]:
    options: dict[str, object] = {
        "agents": 4, "customers": 2, "history": timedelta(days=1), "step": timedelta(minutes=10),
        "coarse_step": timedelta(minutes=10), "batch_samples": 2_000, "policy": FAST,
    }
    options.update(kwargs)
    return simulate(collector.target, **options)  # type: ignore[arg-type]


def assert_everything_durable_once(summary: SimulationSummary, collector: FakeCollector) -> None:
    assert summary.batches_acked == summary.batches_sent > 0
    assert summary.samples_acked == summary.samples_sent > 0
    assert summary.events_acked == summary.events_sent
    durable_samples = 0
    for log in collector.agents.values():
        assert sorted(log.batches) == list(range(1, len(log.batches) + 1)), "seqs are 1..n without gaps"
        assert log.acked == len(log.batches)
        durable_samples += sum(len(flatten(m.sample_columns).values) for m in log.batches.values())
    assert sum(len(log.batches) for log in collector.agents.values()) == summary.batches_sent
    assert durable_samples == summary.samples_sent


def test_every_batch_is_acked_exactly_once() -> None:
    progress: list[ProgressInfo] = []
    summary, collector = run_against(Faults(), lambda c: small_run(c, progress=progress.append))
    assert_everything_durable_once(summary, collector)
    assert set(collector.first_messages) == {"hello"}
    for log in collector.agents.values():
        assert len(log.received) == len(set(log.received)), "no resends without a disconnect"
        assert len(log.hellos) == 1
    assert summary.resends == 0
    assert progress[-1].phase == "done" and progress[-1].backfill_fraction == 1.0
    assert len(collector.agents) == 4


def test_unacked_batches_are_resent_after_the_stream_drops() -> None:
    faults = Faults(drop_after=2, drops_per_agent=3)
    summary, collector = run_against(faults, small_run)
    assert_everything_durable_once(summary, collector)
    assert summary.resends > 0 and summary.reconnects >= 3 * len(collector.agents)
    for log in collector.agents.values():
        assert log.drops == 3
        assert len(log.hellos) == 4, "Hello again after every reconnect"
        assert log.hellos[-1].acked_seq > 0
        # The batch that broke each stream was stored but never acked: the agent sent it again.
        assert len(log.received) > len(set(log.received))


def test_goodbye_ends_the_stream_and_the_agent_comes_back() -> None:
    summary, collector = run_against(Faults(goodbye_after=1, goodbyes_per_agent=1), small_run)
    assert_everything_durable_once(summary, collector)
    assert all(len(log.hellos) == 2 for log in collector.agents.values())


def test_window_bounds_the_batches_in_flight() -> None:
    policy = ClientPolicy(window=3, backoff_initial=0.02, backoff_max=0.2)
    summary, collector = run_against(Faults(ack_delay=0.002), lambda c: small_run(c, agents=2, policy=policy))
    assert_everything_durable_once(summary, collector)
    assert max(log.max_unacked_seen for log in collector.agents.values()) <= 3


def test_rejection_stops_the_run_with_the_collectors_reason() -> None:
    with pytest.raises(AgentRejected, match=r"PERMISSION_DENIED: unknown customer"):
        run_against(Faults(reject=grpc.StatusCode.PERMISSION_DENIED), small_run)


def test_unreachable_collector_fails_with_the_address() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        policy = ClientPolicy(backoff_initial=0.02, backoff_max=0.1, give_up_after=0.5)
        with pytest.raises(CollectorUnreachable, match=f"127.0.0.1:{port}"):
            asyncio.run(simulate(f"127.0.0.1:{port}", agents=1, customers=1, history=timedelta(hours=1),
                                 policy=policy))


def test_diagnostic_requests_are_denied() -> None:
    _, collector = run_against(Faults(diagnose=True), lambda c: small_run(c, agents=1, customers=1))
    results = next(iter(collector.agents.values())).diagnostic_results
    assert [(r.request_id, r.status, r.final) for r in results] == [("r-1", "denied", True)]


def test_live_mode_streams_after_the_history_and_the_silent_host_stays_away() -> None:
    trouble = TroubleSpec(disk_fill=0, memory_leak=0, error_burst=0, ssh_bruteforce=0, silent=1,
                          silent_for=timedelta(hours=2))
    summary, collector = run_against(Faults(), lambda c: small_run(
        c, agents=3, trouble=trouble, live=timedelta(seconds=1), interval=timedelta(milliseconds=200)))
    assert_everything_durable_once(summary, collector)
    end_ms = int(summary.history_end.timestamp() * 1000)
    silent_host = next(t.host for t in summary.troubles if t.kind.value == "silent")
    for log in collector.agents.values():
        firsts = [flatten(m.sample_columns) for m in log.batches.values()
                  if m.WhichOneof("payload") == "sample_columns"]
        stamps = [ts for f in firsts for ts in f.stamps[:f.sizes[0]].tolist()]  # the first series of each batch
        if log.hellos[0].hostname == silent_host:
            assert max(stamps) <= end_ms - 2 * 3_600_000
        else:
            live = sorted(ts for ts in stamps if ts > end_ms)
            assert len(live) >= 3, "catch-up from the end of history, then a point per interval"
            assert live == sorted(set(live))


def test_stop_ends_the_run_cleanly_with_everything_sent_acked() -> None:
    async def body(collector: FakeCollector) -> SimulationSummary:
        stop = asyncio.Event()
        task = asyncio.create_task(small_run(collector, live=timedelta(hours=1), interval=timedelta(seconds=0.1),
                                             stop=stop))
        await asyncio.sleep(1.0)
        stop.set()
        return await task

    summary, collector = run_against(Faults(), body)
    assert_everything_durable_once(summary, collector)
