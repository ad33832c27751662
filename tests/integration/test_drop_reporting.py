"""Drops at the ingest door reach everyone who should know: a real agent over loopback (its log),
the collector's /metrics, the host's API document and `patrol host`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from collector.localrun import child_env
from tests.integration.harness import TOKEN, AgentProcess, CollectorProcess, wait_for

pytestmark = pytest.mark.integration


def test_series_over_the_cap_are_reported_to_agent_metrics_and_host(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector", max_series_per_host=3).start()
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}", agent_id="capped").start()
    try:
        wait_for(lambda: "event=collector_dropped" in agent.log_path.read_text(), 60, "the agent to log drops")
        line = next(x for x in agent.log_path.read_text().splitlines() if "event=collector_dropped" in x)
        assert "series_limit_host" in line
        collector.flush()
        doc = collector.get("/api/v1/hosts/capped")
        assert doc["rejected"]["samples"]["series_limit_host"] > 0
        metrics = httpx.get(f"{collector.api}/metrics", timeout=10).text
        assert 'patrol_ingest_rejected_samples_total{reason="series_limit_host"}' in metrics
        shown = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url",
                                collector.api, "--token", TOKEN, "host", "capped"], capture_output=True, text=True,
                               env=child_env(), timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "series_limit_host" in shown.stdout
        with collector.db() as db:
            assert db.execute("SELECT COUNT(*) FROM series WHERE host_id = 'capped'").fetchone() == (3,)
    finally:
        agent.stop()
        collector.kill(signal.SIGTERM)
