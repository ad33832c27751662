"""Two collector processes on one PostgreSQL behind a load balancer, agents moving between them, and
the leader killed: no scheduled inspection runs twice, none is skipped, no sample is lost or stored
twice, and diagnostics reach an agent through whichever collector the engineer asks."""

from __future__ import annotations

import base64
import itertools
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from collector.store.samples import logged_samples
from tests.integration.harness import TOKEN, AgentProcess, CollectorProcess, TcpProxy, batch_totals, wait_for
from tests.store_pg.fixtures import postgres_server, postgres_url  # noqa: F401

AGENTS = ("agent-1", "agent-2")


def group_config(url: str, keys: Path) -> dict[str, Any]:
    return {
        "store": {"url": url, "flush_interval": "0.5s"},
        "cluster": {"heartbeat": "0.5s", "lease_ttl": "3s", "relay_poll": "0.2s"},
        "offline_after": "5s",
        # Every minute, so a test of two minutes sees runs on both sides of the failover.
        "inspections": {"schedules": [{"profile": "daily", "cron": "* * * * *"}]},
        "diagnostics": {"key_dir": str(keys)},  # a group shares one signing key
    }


def connected_to(db: Engine) -> dict[str, str | None]:
    with db.connect() as conn:
        return {h: c for h, c in conn.exec_driver_sql("SELECT id, connected_to FROM hosts WHERE connected")}


def leader(db: Engine) -> str | None:
    with db.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT holder FROM leases WHERE name = 'scheduler' AND expires_ms > "
            "(extract(epoch FROM clock_timestamp()) * 1000)::bigint").scalar_one_or_none()


def stored_batches(db: Engine, host_id: str) -> dict[int, tuple[int, float]]:
    out: dict[int, tuple[int, float]] = {}
    with db.connect() as conn:
        for (payload,) in conn.execute(text("SELECT payload FROM ingest_log WHERE host_id = :h"), {"h": host_id}):
            s = logged_samples(bytes(payload))
            assert s.seq not in out, f"batch seq={s.seq} of {host_id} stored twice"
            out[s.seq] = batch_totals(s)
    return out


def rollup_count(db: Engine, host_id: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(SUM(r.count), 0) FROM rollup_1m r JOIN series s "
                                     "ON s.id = r.series_id WHERE s.host_id = :h"), {"h": host_id}).scalar_one())


def scheduled_runs(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r) for r in conn.exec_driver_sql(
            "SELECT id, schedule_id, scheduled_for_ms, status, collector_id, error FROM inspection_runs "
            "WHERE trigger = 'schedule' ORDER BY id").mappings()]


def next_minute_after(ms: int) -> int:
    return (ms // 60_000 + 1) * 60_000


def diag(collector: CollectorProcess, host: str, action: str, **args: str) -> tuple[dict[str, Any], bytes]:
    output = b""
    final: dict[str, Any] = {}
    with httpx.stream("POST", f"{collector.api}/api/v1/diag", params={"stream": "true"},
                      json={"host": host, "action": action, "args": args},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as r:
        if r.status_code >= 400:
            r.read()
            raise AssertionError(f"diagnostics via {collector.api}: {r.status_code} {r.text}")
        for line in r.iter_lines():
            if line.strip():
                event = json.loads(line)
                if event["type"] == "chunk":
                    output += base64.b64decode(event["data"])
                elif event["type"] == "final":
                    final = event
    return final, output


@pytest.fixture
def group(tmp_path: Path, postgres_url: str) -> Iterator[tuple[CollectorProcess, CollectorProcess, Engine]]:  # noqa: F811
    keys = tmp_path / "diag-keys"
    a = CollectorProcess(tmp_path / "a", collector_id="col-a", **group_config(postgres_url, keys))
    b = CollectorProcess(tmp_path / "b", collector_id="col-b", **group_config(postgres_url, keys))
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
                       if postgres_url.startswith("postgresql://") else postgres_url)
    try:
        a.start()  # first up: it takes the lease
        b.start()
        yield a, b, db
    finally:
        for c in (a, b):
            if c.proc is not None and c.proc.poll() is None:
                c.kill(signal.SIGTERM)
        db.dispose()


def test_agents_moving_between_two_collectors_and_the_leader_killed(
        tmp_path: Path, group: tuple[CollectorProcess, CollectorProcess, Engine]) -> None:
    a, b, db = group
    assert wait_for(lambda: leader(db), 10, "a leader") == "col-a"
    lb = TcpProxy(a.grpc_port)
    key = tmp_path / "diag-keys" / "signing_key.pub.pem"
    wait_for(key.exists, 10, "the group's diagnostics key")
    agents = [AgentProcess(tmp_path / name, f"127.0.0.1:{lb.port}", agent_id=name,
                           diagnostics={"collector_key": str(key), "clock_skew": "0s"}).start()
              for name in AGENTS]
    try:
        wait_for(lambda: connected_to(db) == dict.fromkeys(AGENTS, "col-a"), 30, "agents on col-a")
        started_ms = int(time.time() * 1000)
        # A scheduled run by the leader (col-a) before anything else happens.
        first_due = next_minute_after(started_ms)
        wait_for(lambda: any(r["scheduled_for_ms"] >= first_due and r["status"] == "completed"
                             for r in scheduled_runs(db)), 100, "a scheduled inspection on col-a")

        # The load balancer sends the agents to col-b; they replay what col-a had not acked.
        lb.retarget(b.grpc_port)
        wait_for(lambda: connected_to(db) == dict.fromkeys(AGENTS, "col-b"), 30, "agents on col-b")

        # An engineer asks col-a for diagnostics of an agent connected to col-b: relayed through the store.
        final, output = diag(a, "agent-1", "system_snapshot")
        assert final["status"] == "ok", final
        assert output, "the snapshot came back through the store"

        def audited() -> list[tuple[str, str, str]]:
            with db.connect() as conn:
                return [tuple(r) for r in conn.exec_driver_sql(
                    "SELECT event, via, collector_id FROM audit_log WHERE request_id = %(r)s",
                    {"r": final["request_id"]})]

        wait_for(lambda: ("diag.result", "relay", "col-a") in audited(), 10, "the relayed result in col-a's audit")

        # Back to col-a, then col-a (the leader) is killed while they stream to it.
        lb.retarget(a.grpc_port)
        wait_for(lambda: connected_to(db) == dict.fromkeys(AGENTS, "col-a"), 30, "agents back on col-a")
        time.sleep(2)
        a.kill(signal.SIGKILL)
        lb.retarget(b.grpc_port)
        killed_ms = int(time.time() * 1000)
        assert wait_for(lambda: leader(db) == "col-b", 30, "col-b to take the lease over")
        wait_for(lambda: connected_to(db) == dict.fromkeys(AGENTS, "col-b"), 30, "agents on col-b after the kill")

        # col-b runs the next scheduled inspection.
        after_kill = next_minute_after(killed_ms)
        wait_for(lambda: any(r["scheduled_for_ms"] >= after_kill and r["collector_id"] == "col-b"
                             and r["status"] == "completed" for r in scheduled_runs(db)), 100,
                 "a scheduled inspection on col-b after the failover")
    finally:
        for agent in agents:
            agent.stop()  # SIGTERM: the agent drains its spool before it exits
        lb.close()

    # Every batch every agent produced is stored exactly once, and in the rollups once (col-a's
    # unfolded batches were folded by col-b, the new leader).
    for name, agent in zip(AGENTS, agents, strict=True):
        trace = agent.trace()
        assert trace, f"{name} produced nothing"
        assert wait_for(lambda n=name, t=trace: stored_batches(db, n) == t or None, 30,
                        f"every batch of {name} stored once")
        want = sum(count for count, _ in trace.values())
        wait_for(lambda n=name, w=want: rollup_count(db, n) == w, 30, f"the rollups of {name} to count every sample")

    # No scheduled fire time ran twice; none between the first run and the failover was skipped.
    runs = scheduled_runs(db)
    counted = [r for r in runs if r["status"] in ("completed", "queued", "running")]
    fire_times = [(r["schedule_id"], r["scheduled_for_ms"]) for r in counted]
    assert len(fire_times) == len(set(fire_times)), f"an inspection ran twice: {runs}"
    assert {r["collector_id"] for r in counted} == {"col-a", "col-b"}
    done = sorted(ms for _, ms in fire_times)
    assert all(later - earlier == 60_000 for earlier, later in itertools.pairwise(done)), \
        f"a fire time was skipped or repeated: {runs}"


def test_a_second_collector_on_the_same_sqlite_store_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    first = CollectorProcess(tmp_path / "a", collector_id="col-a", store={"url": url}).start()
    second = CollectorProcess(tmp_path / "b", collector_id="col-b", store={"url": url})
    try:
        second.start(wait=False)
        proc = second.proc
        assert proc is not None
        assert proc.wait(60) != 0
        assert "several collectors need a PostgreSQL store" in second.log_path.read_text()
    finally:
        first.kill(signal.SIGTERM)
