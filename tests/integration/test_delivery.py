"""Nothing is lost: real agent and collector processes on loopback, with crashes and network cuts."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from agent.spool import Spool
from tests.integration.harness import (
    AgentProcess,
    CollectorProcess,
    TcpProxy,
    rollup_totals,
    stored_batches,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def assert_exactly_once(agent: AgentProcess, collector: CollectorProcess, host_id: str = "test-agent") -> int:
    produced = agent.trace()
    assert produced, "the agent spooled no batches"
    collector.flush()
    with collector.db() as db:
        stored = stored_batches(db, host_id)
        n_rollup, sum_rollup = rollup_totals(db, host_id)
        n_hourly, sum_hourly = rollup_totals(db, host_id, "rollup_1h")
    missing = sorted(set(produced) - set(stored))
    extra = sorted(set(stored) - set(produced))
    assert not missing, f"batches lost: {missing[:20]}"
    assert not extra, f"batches the agent never produced: {extra[:20]}"
    for seq, (n, total) in produced.items():
        assert stored[seq][0] == n, f"seq {seq}: {stored[seq][0]} samples stored, {n} produced"
        assert stored[seq][1] == pytest.approx(total, rel=1e-9, abs=1e-6), f"seq {seq}: values differ"
    # The rollups were built from every batch exactly once, also across the crash.
    n_points = sum(n for n, _ in produced.values())
    assert n_rollup == n_hourly == n_points
    assert sum_rollup == pytest.approx(sum(t for _, t in produced.values()), rel=1e-9)
    assert sum_hourly == pytest.approx(sum_rollup, rel=1e-9)
    return len(produced)


def stored_seqs(collector: CollectorProcess) -> set[int]:
    with collector.db() as db:
        return set(stored_batches(db, "test-agent"))


def test_collector_killed_mid_stream(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector").start()
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}").start()
    try:
        wait_for(lambda: len(agent.trace()) >= 6, 60, "agent batches")
        collector.kill(signal.SIGKILL)
        n_at_kill = len(agent.trace())
        wait_for(lambda: len(agent.trace()) >= n_at_kill + 6, 60, "batches spooled while the collector is down")
        collector.start()
        wait_for(lambda: len(agent.trace()) >= n_at_kill + 12, 60, "more batches after restart")
        # The replay of what was spooled during the outage has caught up (a loaded machine replays
        # slowly), so the stop below has only the newest batches left to drain.
        spooled = set(agent.trace())
        wait_for(lambda: spooled <= stored_seqs(collector), 60, "the spooled batches to be replayed")
    finally:
        assert agent.stop() == 0
    # A clean agent stop drains the spool while the collector is up.
    n = assert_exactly_once(agent, collector)
    assert n >= 18
    assert agent.spool_stats()["depth_batches"] == "0"
    collector.kill(signal.SIGTERM)


def test_network_cut(tmp_path: Path) -> None:
    cut_seconds = float(os.environ.get("PATROL_TEST_CUT_SECONDS", "120"))
    collector = CollectorProcess(tmp_path / "collector").start()
    proxy = TcpProxy(collector.grpc_port)
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{proxy.port}").start()
    try:
        wait_for(lambda: len(agent.trace()) >= 4, 60, "agent batches")
        proxy.cut.set()
        time.sleep(cut_seconds)
        with collector.db() as db:
            during = stored_batches(db, "test-agent")
        proxy.cut.clear()
        produced_during_cut = len(agent.trace())
        assert produced_during_cut > len(during) + cut_seconds  # about two batches a second were spooled

        def caught_up() -> bool:
            with collector.db() as db:
                return len(stored_batches(db, "test-agent")) >= produced_during_cut

        wait_for(caught_up, 60, "the spooled batches to arrive after the cut")
    finally:
        assert agent.stop() == 0
        proxy.close()
    assert_exactly_once(agent, collector)
    collector.kill(signal.SIGTERM)


def test_spool_bound_drops_oldest_and_counts(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector")  # not started: the agent spools
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}",
                         spool={"dir": "spool", "max_bytes": 24 * 1024, "segment_bytes": 4096}).start()
    try:
        wait_for(lambda: len(agent.trace()) >= 40, 90, "enough batches to overflow the spool")
        collector.start()
        host = wait_for(lambda: [h for h in collector.get("/api/v1/hosts") if h["id"] == "test-agent"], 60,
                        "agent to connect")
        assert host
    finally:
        assert agent.stop() == 0
    produced = agent.trace()
    collector.flush()
    with collector.db() as db:
        stored = stored_batches(db, "test-agent")
    # The agent may stop before it has replayed its whole spool (a loaded machine is slow): what it
    # still holds is kept for the next connection, not lost.
    with Spool(agent.dir / "spool", max_bytes=24 * 1024, segment_bytes=4096) as spool:
        kept = {seq for seq, _ in spool.pending()}
    lost = sorted(set(produced) - set(stored) - kept)
    assert lost, "expected the oldest batches to be dropped"
    # Only the oldest were dropped: what is missing is a prefix, everything after it arrived or waits.
    assert lost == list(range(1, len(lost) + 1))
    assert set(stored) | kept == set(produced) - set(lost)
    info = collector.get("/api/v1/hosts/test-agent")
    assert info["spool"]["dropped_batches"] == len(lost)
    assert info["spool"]["dropped_samples"] == sum(produced[s][0] for s in lost)
    collector.kill(signal.SIGTERM)


def test_corrupt_spool_tail_keeps_what_came_before(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector")
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}").start()
    wait_for(lambda: len(agent.trace()) >= 8, 60, "spooled batches")
    agent.stop(signal.SIGKILL)
    produced = agent.trace()
    last = agent.spool_files()[-1]
    data = last.read_bytes()
    # A torn write: the last record loses its tail, and garbage follows.
    last.write_bytes(data[:-7] + os.urandom(5))
    collector.start()
    agent.start()
    wait_for(lambda: len(agent.trace()) >= len(produced) + 4, 60, "the restarted agent's batches")
    assert agent.stop() == 0
    collector.flush()
    with collector.db() as db:
        stored = stored_batches(db, "test-agent")
    torn = max(produced)
    # Every batch before the torn one arrived, unchanged.
    for seq in range(1, torn):
        assert stored[seq][0] == produced[seq][0]
        assert stored[seq][1] == pytest.approx(produced[seq][1], rel=1e-9)
    # The torn batch alone is gone and counted; its seq was never sent, so the agent reused it.
    assert collector.get("/api/v1/hosts/test-agent")["spool"]["corrupt_records"] >= 1
    after = agent.trace()
    assert after[torn] != produced[torn]
    for seq in range(torn, max(after) + 1):
        assert stored[seq][0] == after[seq][0]
    collector.kill(signal.SIGTERM)
