"""``patrol demo --serve``: an environment file to source, reuse of its data, and no orphan on a signal."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from collector.demo import choose_port
from tests.demo.helpers import DemoRun

pytestmark = [pytest.mark.integration]


def _env(data_dir: Path) -> dict[str, str]:
    out = {}
    for line in (data_dir / "env").read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            out[name] = value
    return out


def _serve_then_signal(data_dir: Path, sig: signal.Signals, *args: str,
                       while_serving: Callable[[], None] = lambda: None) -> tuple[str, dict[str, str]]:
    run = DemoRun(data_dir, "--serve", *args)
    try:
        run.wait_for_output("serving")
        children = psutil.Process(run.proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "collector.main" in names and "agent.main" in names
        env = _env(data_dir)
        hosts = httpx.get(f"{env['PATROL_URL']}/api/v1/hosts",
                          headers={"Authorization": f"Bearer {env['PATROL_TOKEN']}"}, timeout=30).json()
        assert len(hosts) == 5  # four simulated hosts and this machine
        while_serving()
        run.proc.send_signal(sig)
        assert run.wait() == 128 + sig.value
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], f"still running after {sig.name}: {[p.cmdline() for p in alive]}"
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    return run.text(), env


def test_serve_reuses_its_data_and_a_signal_stops_every_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo-data"
    def second_demo_is_refused() -> None:
        other = DemoRun(data_dir)
        assert other.wait() == 1
        assert "a demo collector is serving from" in " ".join(other.text().split())

    first, env = _serve_then_signal(data_dir, signal.SIGTERM, while_serving=second_demo_is_refused)
    assert "reusing" not in first and "monthly inspection" in first
    assert set(env) == {"PATROL_URL", "PATROL_TOKEN"}
    assert env["PATROL_TOKEN"] == (data_dir / "token").read_text().strip()

    second, env2 = _serve_then_signal(data_dir, signal.SIGINT)
    assert f"reusing {data_dir}" in second and "monthly inspection" not in second
    assert env2["PATROL_TOKEN"] == env["PATROL_TOKEN"]  # a sourced env keeps working across restarts

    third, env3 = _serve_then_signal(data_dir, signal.SIGTERM, "--fresh")
    assert "reusing" not in third and env3["PATROL_TOKEN"] != env["PATROL_TOKEN"]


def test_a_taken_port_falls_back_with_a_message() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        port, note = choose_port(taken, "HTTP API")
    assert port != taken and note is not None
    assert f"port {taken} for the HTTP API is taken" in note and str(port) in note
