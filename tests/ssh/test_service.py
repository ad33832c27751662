"""The SSH service inside a real collector process: configured in collector.yaml, polling on schedule."""

from __future__ import annotations

import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psutil
import pytest

from agent.configfile import ConfigError
from collector.config import CollectorConfig, Customer
from collector.ssh.poller import ssh_service
from tests.integration.harness import CollectorProcess, wait_for
from tests.ssh.sshd import SshServer

pytestmark = pytest.mark.integration


def test_collector_polls_ssh_targets_on_schedule(sshd: SshServer, tmp_path: Path) -> None:
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    ssh = {
        "startup_spread": 0,
        "defaults": {"user": sshd.user, "key_file": str(sshd.client_key), "known_hosts": str(known_hosts),
                     "interval": "1s", "timeout": "5s"},
        "targets": [{"host_id": "web-ssh", "customer": "acme", "address": "127.0.0.1", "port": sshd.port,
                     "labels": {"via": "ssh"}},
                    {"host_id": "down-ssh", "customer": "globex", "address": "127.0.0.1", "port": 1}],
    }
    collector = CollectorProcess(tmp_path / "collector", ssh=ssh).start()
    try:
        def polled_twice() -> dict[str, Any] | None:
            collector.flush()
            try:
                host = collector.get("/api/v1/hosts/web-ssh")
            except httpx.HTTPStatusError:  # 404 until the first poll is stored
                return None
            names = {v["name"] for v in host["latest"]}
            return host if "cpu.busy_percent" in names else None  # CPU shares need a second poll

        host = wait_for(polled_twice, 30, "two SSH polls of web-ssh stored")
        assert host["source"] == "ssh" and host["status"] == "online" and host["labels"] == {"via": "ssh"}
        latest = {v["name"]: v["value"] for v in host["latest"] if not v["labels"]}
        assert latest["mem.total_bytes"] == psutil.virtual_memory().total
        assert latest["probe.ssh_up"] == 1.0

        down = wait_for(lambda: next((h for h in collector.get("/api/v1/hosts") if h["id"] == "down-ssh"), None),
                        30, "the unreachable target's host row")
        assert down["source"] == "ssh" and down["status"] == "offline" and down["customer_id"] == "globex"
        with collector.db() as db:
            state, error = db.execute("SELECT state, last_error FROM ssh_targets WHERE host_id='down-ssh'").fetchone()
        assert state == "unreachable" and "connection refused" in error
    finally:
        proc = collector.proc
        collector.kill(signal.SIGTERM)
    assert proc is not None and proc.returncode == 0  # the service stopped cleanly with the collector


def test_unknown_customer_is_a_configuration_error(sshd: SshServer, tmp_path: Path) -> None:
    ssh = {"targets": [{"host_id": "x", "customer": "nobody", "address": "127.0.0.1", "user": "u",
                        "key_file": str(sshd.client_key), "known_hosts": str(sshd.client_key)}]}
    cfg = CollectorConfig(insecure=True, data_dir=tmp_path, customers=[Customer(id="acme", name="A")], ssh=ssh)
    with pytest.raises(ConfigError, match=r"unknown customer\(s\) nobody; the configuration defines \['acme'\]"):
        ssh_service(SimpleNamespace(cfg=cfg))  # type: ignore[arg-type]
    assert ssh_service(SimpleNamespace(cfg=CollectorConfig(insecure=True))) is None  # type: ignore[arg-type]
