"""A real collector process started on a store with a poisoned ingest log, and the quarantine CLI on it.

The ingest log is written directly (as an older collector without bounds could have left it): points
of ±1e308 in one minute, whose sums used to overflow into NaN, and a row that is not a message at all.
The collector must finish recovery at once and answer on its API, ingest from a good agent, keep its rollups finite,
and hold the undecodable row in the quarantine.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest

from collector.localrun import api_healthy, child_env
from collector.store import quarantine as repository
from collector.store.engine import open_engine
from collector.store.schema import ingest_log
from protos.patrol.v1 import agent_pb2 as pb
from tests.integration.harness import TOKEN, CollectorProcess, wait_for

pytestmark = pytest.mark.integration
COLLECTOR_ID = "c-poisoned"
GARBAGE = b"\xff\xfe not a protobuf \x00\x01"


def sample_message(seq: int, points: list[tuple[int, float]], name: str = "cpu.busy_percent") -> bytes:
    return pb.AgentMessage(samples=pb.Samples(seq=seq, series=[pb.Series(
        name=name, timestamps_ms=[t for t, _ in points], values=[v for _, v in points])])).SerializeToString()


def poison(db_url: str) -> None:
    t = int(time.time() * 1000)
    rows = [sample_message(1, [(t, 1e308), (t + 1, 1e308)]), sample_message(2, [(t + 2, -1e308), (t + 3, -1e308)]),
            GARBAGE, sample_message(3, [(t + 4, 7.0)])]
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(ingest_log.insert(), [{"collector_id": COLLECTOR_ID, "host_id": "poisoned", "received_ms": t,
                                            "payload": p} for p in rows])
        # A batch held by an earlier quarantine, to be retried from the CLI.
        repository.put(conn, repository.Entry(COLLECTOR_ID, "retried", "epoch-1", 1, "samples", t, "test",
                                              sample_message(1, [(t, 42.0)], name="mem.used_percent")))
    engine.dispose()


def patrol(collector: CollectorProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url", collector.api,
                           "--token", TOKEN, *args], capture_output=True, text=True, env=child_env(), timeout=60)


def test_poisoned_ingest_log_cannot_stall_start_up(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, collector_id=COLLECTOR_ID)
    poison(f"sqlite:///{collector.db_path}")
    collector.start(wait=False)
    try:
        # On an idle machine the API answers in a few seconds; the bound is generous for loaded CI machines,
        # and the log shows that recovery ended at once instead of looping.
        wait_for(lambda: api_healthy(collector.api, collector._process), 60, "the collector API")
        log_text = collector.log_path.read_text()
        assert "event=recover batches=4" in log_text
        assert "flush_failed" not in log_text and "Recursion" not in log_text
        t = int(time.time() * 1000)
        msgs = [pb.AgentMessage(hello=pb.Hello(agent_id="good", hostname="good", customer="acme",
                                               spool_epoch=uuid.uuid4().hex)).SerializeToString(),
                *(sample_message(i, [(t - i, float(i))]) for i in range(1, 6))]
        with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as ch:
            call = ch.stream_stream("/patrol.v1.AgentService/Connect", request_serializer=None,
                                    response_deserializer=pb.CollectorMessage.FromString)
            acks = [m.ack.seq for m in call(iter(msgs), timeout=30) if m.WhichOneof("payload") == "ack"]
        assert acks[-1] == 5
        collector.flush()
        with collector.db() as db:
            rollups = dict(db.execute("SELECT s.host_id, SUM(r.count) FROM rollup_1m r JOIN series s "
                                      "ON s.id = r.series_id GROUP BY s.host_id").fetchall())
            assert db.execute("SELECT COUNT(*) FROM rollup_1m WHERE sum IS NULL OR abs(sum) > 1e308").fetchone() == (0,)
        assert rollups == {"good": 5, "poisoned": 1}

        listed = patrol(collector, "quarantine", "list", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        entries = {e["kind"]: e for e in json.loads(listed.stdout)}
        assert set(entries) == {"ingest_log", "samples"}
        assert "cannot be decoded" in entries["ingest_log"]["reason"]
        out = tmp_path / "held.bin"
        exported = patrol(collector, "quarantine", "export", str(entries["ingest_log"]["id"]), str(out))
        assert exported.returncode == 0, exported.stderr
        assert out.read_bytes() == GARBAGE
        refused = patrol(collector, "quarantine", "retry", str(entries["ingest_log"]["id"]))
        assert refused.returncode != 0 and "undecodable" in refused.stderr + refused.stdout

        retried = patrol(collector, "quarantine", "retry", str(entries["samples"]["id"]))
        assert retried.returncode == 0, retried.stderr + retried.stdout
        assert "accepted" in retried.stdout
        collector.flush()
        with collector.db() as db:
            assert db.execute("SELECT r.sum FROM rollup_1m r JOIN series s ON s.id = r.series_id "
                              "WHERE s.host_id = 'retried'").fetchall() == [(42.0,)]
        after = json.loads(patrol(collector, "quarantine", "list", "--format", "json").stdout)
        assert [e["kind"] for e in after] == ["ingest_log"]
        assert base64.b64decode(collector.get(f"/api/v1/quarantine/{after[0]['id']}")["payload_base64"]) == GARBAGE
        metrics = __import__("httpx").get(f"{collector.api}/metrics").text
        assert "patrol_ingest_quarantined_batches_total 1.0" in metrics
    finally:
        collector.kill(signal.SIGTERM)
