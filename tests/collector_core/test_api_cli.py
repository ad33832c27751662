"""The HTTP API and the `patrol` CLI against a real collector process fed over gRPC."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from collector.localrun import child_env
from protos.patrol.v1 import agent_pb2 as pb
from tests.integration.harness import TOKEN, CollectorProcess

pytestmark = pytest.mark.integration
VIEWER = "viewer-token"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("api"), api={"tokens": [
        {"name": "admin", "token": TOKEN, "role": "admin"}, {"name": "dash", "token": VIEWER, "role": "viewer"}]})
    c.start()
    now_ms = int(time.time() * 1000)
    facts = pb.Facts(hostname="db-01", os="Debian GNU/Linux 12", kernel="6.1.0", cpu_count=8,
                     memory_bytes=32 * 2**30, disks=[pb.Disk(mount="/", device="vda1", total_bytes=100 * 2**30)])
    hello = pb.AgentMessage(hello=pb.Hello(agent_id="db-01-id", hostname="db-01", customer="acme", version="9.9",
                                           facts=facts, spool_epoch=uuid.uuid4().hex))
    batch = pb.AgentMessage(samples=pb.Samples(seq=1, series=[
        pb.Series(name="cpu.busy_percent", timestamps_ms=[now_ms - 120_000, now_ms - 60_000], values=[10.0, 30.0]),
        pb.Series(name="disk.used_percent", labels={"mount": "/"}, timestamps_ms=[now_ms], values=[71.5]),
        pb.Series(name="mem.used_percent", timestamps_ms=[now_ms], values=[40.0]),
    ]))
    with grpc.insecure_channel(f"127.0.0.1:{c.grpc_port}") as ch:
        call = ch.stream_stream("/patrol.v1.AgentService/Connect", request_serializer=None,
                                response_deserializer=pb.CollectorMessage.FromString)
        acks = list(call(iter([hello.SerializeToString(), batch.SerializeToString()]), timeout=15))
    assert acks[-1].ack.seq == 1
    c.flush()
    yield c
    c.kill(signal.SIGTERM)


def patrol(collector: CollectorProcess, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url", collector.api,
                           "--token", token, *args], capture_output=True, text=True, env=child_env(), timeout=60)


def test_hosts_json_and_table(collector: CollectorProcess) -> None:
    out = patrol(collector, "hosts", "--format", "json")
    assert out.returncode == 0, out.stderr
    hosts = json.loads(out.stdout)
    assert [h["host"] for h in hosts] == ["db-01"]
    h = hosts[0]
    assert h["customer"] == "acme" and h["status"] == "offline"  # the test stream has closed
    assert h["cpu_percent"] == 30.0 and h["disk_max_percent"] == 71.5 and h["mem_percent"] == 40.0
    table = patrol(collector, "hosts")
    assert "db-01" in table.stdout and "71.5" in table.stdout


def test_host_detail(collector: CollectorProcess) -> None:
    out = patrol(collector, "host", "db-01")
    assert out.returncode == 0, out.stderr
    assert "Debian GNU/Linux 12" in out.stdout and "disk.used_percent" in out.stdout and "mount=/" in out.stdout


def test_series_csv(collector: CollectorProcess) -> None:
    out = patrol(collector, "series", "db-01", "cpu.busy_percent", "--since", "1h", "--step", "1h", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert sum(int(r["count"]) for r in rows) == 2
    assert max(float(r["max"]) for r in rows) == 30.0


def test_errors_users_can_act_on(collector: CollectorProcess) -> None:
    out = patrol(collector, "host", "no-such-host")
    assert out.returncode == 1 and "unknown host 'no-such-host'" in out.stderr
    out = patrol(collector, "hosts", token="wrong")
    assert out.returncode == 1 and "unknown API token" in out.stderr
    r = httpx.post(f"{collector.api}/api/v1/admin/flush", headers={"Authorization": f"Bearer {VIEWER}"})
    assert r.status_code == 403 and "needs admin" in r.json()["detail"]
    assert httpx.get(f"{collector.api}/api/v1/hosts").status_code == 401
    down = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url",
                           "http://127.0.0.1:9", "hosts"], capture_output=True, text=True, env=child_env())
    assert down.returncode == 1 and "cannot reach the collector API" in down.stderr


def test_metrics_endpoint(collector: CollectorProcess) -> None:
    text = httpx.get(f"{collector.api}/metrics").text
    assert "patrol_samples_accepted_total 4.0" in text
    assert "patrol_streams_active" in text


def test_cli_analyze_logs_on_real_sample(collector: CollectorProcess) -> None:
    log = Path(__file__).resolve().parents[1] / "data" / "logs" / "OpenSSH_2k.log"
    out = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "analyze", "logs",
                          str(log)], capture_output=True, text=True, env=child_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "rule_id,count"


def test_cluster_lists_this_collector_as_the_leader(collector: CollectorProcess) -> None:
    out = patrol(collector, "cluster", "--format", "json")
    assert out.returncode == 0, out.stderr
    (member,) = json.loads(out.stdout)
    assert member["leader"] and member["alive"] and member["listen"] == f"127.0.0.1:{collector.grpc_port}"
    table = patrol(collector, "cluster")
    assert "leader" in table.stdout and "1 of 1 collectors alive" in table.stdout
    assert patrol(collector, "cluster", token="wrong").returncode != 0
