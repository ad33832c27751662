from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from agent.config import AgentConfig
from agent.model import Collector
from agent.probes import ProbesConfig, build_probes
from tests.agent_collectors.helpers import assert_catalogued, by_key
from tests.agent_probes.servers import CertFiles, http_server, listening, sntp_reply, sntp_server, wait_for

DEFAULT_INTERVALS = {
    "probe_processes": 60.0,
    "probe_ports": 60.0,
    "probe_http": 60.0,
    "probe_tcp": 60.0,
    "probe_tls": 3600.0,
    "probe_backups": 900.0,
    "probe_ntp": 300.0,
    "probe_systemd": 60.0,
}


def test_nothing_configured_builds_nothing() -> None:
    assert build_probes(ProbesConfig()) == []
    assert build_probes(AgentConfig.model_validate({"customer": "a", "collector": "h:1"}).probes) == []


def test_every_kind_with_its_interval() -> None:
    cfg = ProbesConfig.model_validate(
        {
            "processes": ["nginx"],
            "ports": [22],
            "http": ["http://127.0.0.1/"],
            "tcp": ["127.0.0.1:22"],
            "tls": ["/etc/ssl/site.pem"],
            "backups": ["/backup"],
            "ntp": {"server": "127.0.0.1"},
            "systemd_units": ["nginx"],
            "intervals": {"tls": "6h", "processes": "30s"},
        }
    )
    built = build_probes(cfg)
    assert all(isinstance(c, Collector) for c, _ in built)
    intervals = {c.name: interval for c, interval in built}
    assert intervals == {**DEFAULT_INTERVALS, "probe_tls": 6 * 3600.0, "probe_processes": 30.0}
    assert {c.name: c.default_interval for c, _ in built} == DEFAULT_INTERVALS


def test_a_round_on_loopback_healthy_then_broken(tmp_path: Path, certs: dict[str, CertFiles]) -> None:
    """Every probe against real things: all healthy, then each broken, and collect() never raises."""
    marker = f"patrol-build-{uuid.uuid4().hex[:10]}"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    wait_for(lambda: marker in psutil.Process(child.pid).cmdline())
    backups = tmp_path / "backups"
    backups.mkdir()
    for i, size in enumerate((1000, 1010)):
        (backups / f"db-{i}.gz").write_bytes(b"x" * size)
        os.utime(backups / f"db-{i}.gz", (1_000_000 + i, 1_000_000 + i))
    try:
        with (
            listening() as port,
            http_server() as (base, _),
            sntp_server(lambda req: sntp_reply(req, receive=2e9, transmit=2e9)) as (ntp_port, _),
        ):
            cfg = ProbesConfig.model_validate(
                {
                    "timeout": 1,
                    "processes": [{"name": "app", "cmdline": marker}],
                    "ports": [port],
                    "http": [f"{base}/ok"],
                    "tcp": [f"127.0.0.1:{port}"],
                    "tls": [str(certs["valid"].cert)],
                    "backups": [str(backups)],
                    "ntp": {"server": "127.0.0.1", "port": ntp_port},
                }
            )
            healthy = collect_all(cfg)
            assert healthy[("probe.process_count", "app")] == 1.0
            assert healthy[("probe.port_listening", str(port))] == 1.0
            assert healthy[("probe.http_up", f"{base}/ok")] == 1.0
            assert healthy[("probe.tcp_up", f"127.0.0.1:{port}")] == 1.0
            assert 19 < healthy[("probe.tls_expiry_days", str(certs["valid"].cert))] <= 20
            assert healthy[("probe.backup_files", str(backups))] == 2.0
            assert ("probe.ntp_offset_seconds", "127.0.0.1") in healthy
    finally:
        child.kill()
        child.wait()
    # Everything gone: the down values, and no latency, status or offset samples.
    broken = collect_all(cfg)
    assert broken[("probe.process_count", "app")] == 0.0
    assert broken[("probe.port_listening", str(port))] == 0.0
    assert broken[("probe.http_up", f"{base}/ok")] == 0.0
    assert broken[("probe.tcp_up", f"127.0.0.1:{port}")] == 0.0
    assert [k for k in broken if k[0] in {"probe.http_status", "probe.http_latency_ms", "probe.tcp_latency_ms"}] == []
    assert ("probe.ntp_offset_seconds", "127.0.0.1") not in broken


def collect_all(cfg: ProbesConfig) -> dict[tuple[str, str], float]:
    samples = [s for collector, _ in build_probes(cfg) for s in collector.collect()]
    assert_catalogued(samples)
    return {(name, labels[0][1]): value for (name, labels), value in by_key(samples).items()}


def test_a_broken_ca_file_is_a_start_up_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    cfg = ProbesConfig.model_validate({"http": [{"url": "https://127.0.0.1/", "ca_file": str(bad)}]})
    with pytest.raises(ValueError, match=r"cannot load the CA file .*ca\.pem"):
        build_probes(cfg)
