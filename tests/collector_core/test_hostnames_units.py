"""What a person reads names hosts and carries units; JSON keeps ids and raw numbers.

A real collector process fed over gRPC, and the `patrol` CLI as a child process.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator

import grpc
import httpx
import pytest

from collector.cli.units import NOT_APPLICABLE, fmt_bytes, fmt_latest, fmt_quantity, fmt_series_value
from protos.patrol.v1 import agent_pb2 as pb
from tests.integration.harness import TOKEN, CollectorProcess
from tests.integration.harness import patrol_cli as patrol

pytestmark = pytest.mark.integration
UNLIMITED = float(2**63)


def _feed(c: CollectorProcess, agent_id: str, hostname: str, customer: str,
          values: dict[str, float] | None = None) -> None:
    now_ms = int(time.time() * 1000)
    hello = pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, hostname=hostname, customer=customer, version="9.9",
                                           spool_epoch=uuid.uuid4().hex))
    series = [pb.Series(name=name, timestamps_ms=[now_ms], values=[v]) for name, v in (values or {}).items()]
    batch = pb.AgentMessage(samples=pb.Samples(seq=1, series=series or [
        pb.Series(name="cpu.busy_percent", timestamps_ms=[now_ms], values=[5.0])]))
    with grpc.insecure_channel(f"127.0.0.1:{c.grpc_port}") as ch:
        call = ch.stream_stream("/patrol.v1.AgentService/Connect", request_serializer=None,
                                response_deserializer=pb.CollectorMessage.FromString)
        acks = list(call(iter([hello.SerializeToString(), batch.SerializeToString()]), timeout=15))
    assert acks[-1].ack.seq == 1


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("names")).start()
    _feed(c, "db-01-id", "db-01", "acme", {
        "disk.free_bytes": 54_026_969_611.0, "fd.max": UNLIMITED, "fd.open": 4128.0, "fd.used_percent": 0.0,
        "net.rx_bytes_per_s": 1.5 * 2**20, "system.uptime_seconds": 3 * 86400 + 7200.0, "mem.used_percent": 40.0})
    # Two agents on one machine, and one hostname at two customers.
    _feed(c, "vm-agent-a", "vm", "acme")
    _feed(c, "vm-agent-b", "vm", "acme")
    _feed(c, "edge-acme", "edge", "acme")
    _feed(c, "edge-globex", "edge", "globex")
    c.flush()
    yield c
    c.kill(signal.SIGTERM)


def test_an_ambiguous_name_lists_the_candidates_and_ids_still_work(collector: CollectorProcess) -> None:
    out = patrol(collector, "host", "vm")
    assert out.returncode != 0
    message = " ".join((out.stdout + out.stderr).split())
    assert "ambiguous" in message and "vm-agent-a (customer acme)" in message and "vm-agent-b" in message
    edge = " ".join(patrol(collector, "series", "edge", "cpu.busy_percent").stderr.split())
    assert "edge-acme (customer acme)" in edge and "edge-globex (customer globex)" in edge
    assert patrol(collector, "host", "vm-agent-b").returncode == 0
    assert patrol(collector, "host", "db-01").returncode == 0  # a unique name needs no id


def test_hosts_shows_the_agent_id_only_when_names_collide(collector: CollectorProcess) -> None:
    table = patrol(collector, "hosts").stdout
    assert "agent id" in table and "vm-agent-a" in table and "edge-globex" in table
    only_globex = patrol(collector, "hosts", "--customer", "globex").stdout
    assert "edge" in only_globex and "agent id" not in only_globex


def test_host_values_carry_units_and_unlimited(collector: CollectorProcess) -> None:
    out = patrol(collector, "host", "db-01").stdout
    assert "50.3 GiB" in out and "54,026,969,611" not in out
    assert "unlimited" in out and "9,223,372,036,854,775,808" not in out
    assert NOT_APPLICABLE in out  # fd.used_percent against an unlimited fd.max
    assert "1.5 MiB/s" in out and "3d 2h" in out and "40.0 %" in out
    raw = json.loads(patrol(collector, "host", "db-01", "--format", "json").stdout)[0]
    assert {v["name"]: v["value"] for v in raw["latest"]}["fd.max"] == UNLIMITED  # JSON keeps the number


def test_series_and_events_titles_name_the_host(collector: CollectorProcess) -> None:
    series = patrol(collector, "series", "db-01-id", "disk.free_bytes", "--since", "1h", "--step", "1h")
    assert series.returncode == 0, series.stderr
    assert "disk.free_bytes on db-01" in series.stdout and "50.3 GiB" in series.stdout
    events = patrol(collector, "events", "db-01-id")
    assert events.returncode == 0, events.stderr
    assert "events on db-01" in events.stdout and "db-01-id" not in events.stdout
    data = json.loads(patrol(collector, "series", "db-01", "disk.free_bytes", "--since", "1h", "--format",
                             "json").stdout)
    assert [r["last"] for r in data] == [54_026_969_611.0]  # JSON keeps the raw number


def test_tickets_name_the_host_and_json_keeps_the_id(collector: CollectorProcess) -> None:
    r = httpx.post(f"{collector.api}/api/v1/tickets", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30,
                   json={"customer_id": "acme", "title": "slow queries", "host_id": "db-01-id"})
    assert r.status_code == 200, r.text
    ticket_id = r.json()["id"]
    table = patrol(collector, "tickets").stdout
    assert "db-01" in table and "db-01-id" not in table
    rows = json.loads(patrol(collector, "tickets", "--format", "json").stdout)
    row = next(t for t in rows if t["id"] == ticket_id)
    assert row["host_id"] == "db-01-id" and row["hostname"] == "db-01"
    shown = patrol(collector, "ticket", "show", str(ticket_id)).stdout
    assert "host db-01 (db-01-id)" in " ".join(shown.split())
    assert r.json()["registration"]["impact_scope"] == "host db-01 (agent id db-01-id)"


def test_formatting_of_units() -> None:
    assert fmt_bytes(1536) == "1.5 KiB" and fmt_bytes(3 * 2**30) == "3.0 GiB" and fmt_bytes(512) == "512 B"
    assert fmt_series_value("disk.used_percent", 71.5) == "71.5 %"
    assert fmt_series_value("diskio.read_ops_per_s", 12.25) == "12.2/s"
    assert fmt_series_value("sensors.temperature_celsius", 48.0) == "48.0 °C"
    assert fmt_series_value("procs.total", 212.0) == "212"
    assert fmt_series_value("fd.max", UNLIMITED) == "unlimited"
    latest = [{"name": "fd.max", "value": UNLIMITED}, {"name": "fd.used_percent", "value": 0.0}]
    assert fmt_latest(latest) == ["unlimited", NOT_APPLICABLE]
    bounded = [{"name": "fd.max", "value": 100_000.0}, {"name": "fd.used_percent", "value": 4.1}]
    assert fmt_latest(bounded) == ["100,000", "4.1 %"]
    assert fmt_quantity(5 * 2**20, "bytes") == "5.0 MiB" and fmt_quantity(93.456, "%") == "93.46 %"
    assert fmt_quantity(None, "%") == "—"
