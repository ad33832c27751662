"""``patrol diag`` in the demo: the local agent pins the demo collector's key, simulated hosts answer too."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from collector.cli.client import ApiClient
from collector.demo import Demo, DemoPaths, demo_customers
from collector.localrun import REPO_ROOT, child_env, wait_until
from collector.simulator import simulate
from collector.simulator.fleet import FleetSpec, build_fleet
from tests.demo.helpers import PATROL

pytestmark = [pytest.mark.integration]


class LiveFleet:
    """A small simulated fleet streaming live against the demo collector, in a thread of its own."""

    def __init__(self, target: str, agents: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(simulate(
            target, agents=agents, customers=1, history=timedelta(hours=1), live=timedelta(minutes=10),
            stop=self.stop),), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = Demo(DemoPaths(tmp_path_factory.mktemp("demo")), demo_customers(1))
    d.prepare()
    d.start_collector()
    d.start_agent()
    fleet = LiveFleet(d.grpc_target, agents=2)
    try:
        client = ApiClient(d.api_url, d.token)
        wait_until(lambda: len([h for h in client.get("/api/v1/hosts") if h["status"] == "online"]) == 3, 120,
                   "the local agent and two simulated hosts online")
        yield d
    finally:
        fleet.close()
        d.stop()


def patrol(d: Demo, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it after ``source demo-data/env``."""
    env = child_env()
    for line in d.paths.env.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip("'")
    return subprocess.run([PATROL, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_local_agent_answers_top_processes(demo: Demo) -> None:
    r = patrol(demo, "diag", socket.gethostname(), "top_processes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PID" in r.stdout and "COMMAND" in r.stdout
    assert "agent.main" in r.stdout or "python" in r.stdout  # a real process table of this machine
    assert "simulated" not in r.stdout


def test_the_local_agent_refuses_what_the_customer_did_not_allow(demo: Demo) -> None:
    r = patrol(demo, "diag", socket.gethostname(), "network_probe", "--arg", "host=127.0.0.1")
    assert r.returncode != 0
    assert "network_probe" in r.stdout + r.stderr


def test_a_simulated_host_answers_marked_as_simulated(demo: Demo) -> None:
    hostname = build_fleet(FleetSpec(agents=2, customers=1)).hosts[0].hostname
    r = patrol(demo, "diag", hostname, "top_processes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"simulated host {hostname}" in r.stdout and "PID" in r.stdout
    refused = patrol(demo, "diag", hostname, "packages")
    assert refused.returncode != 0 and "not allowed on simulated host" in refused.stdout + refused.stderr


def test_the_agent_pins_the_collector_key(demo: Demo) -> None:
    agent_yaml = demo.paths.agent_config.read_text()
    assert str(demo.paths.signing_public_key) in agent_yaml
    assert Path(demo.paths.signing_public_key).read_text().startswith("-----BEGIN PUBLIC KEY-----")
