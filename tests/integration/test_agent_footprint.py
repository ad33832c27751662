"""A real agent streaming to a real collector has neither pydantic nor PyYAML in its memory, nor OpenSSL's
Python modules (gRPC brings its own TLS), nor what only its start-up used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.localrun import child_env
from tests.integration.harness import AgentProcess, CollectorProcess, stored_batches, wait_for

pytestmark = [pytest.mark.integration]

# The agent's own entry point (agent.main.main), plus one thread that records the loaded modules once
# the agent has spooled a few batches, then stops the agent the way systemd does.
RUN_AND_RECORD = """
import os, signal, sys, threading, time
from pathlib import Path
config, out = sys.argv[1], Path(sys.argv[2])
trace = Path(config).parent / "trace.txt"

def record():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if trace.exists() and len(trace.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    out.write_text("\\n".join(sorted(sys.modules)))
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=record, daemon=True).start()
from agent.main import main
sys.exit(main(["-c", config]))
"""

PACK = """\
version: 1
rules:
  - id: test.marker
    name: {zh: 测试标记, en: Test marker}
    severity: warning
    match: {contains: PATROLTEST}
"""


def test_running_agent_holds_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "pack.yaml").write_text(PACK)
    collector = CollectorProcess(tmp_path / "collector").start()
    try:
        agent = AgentProcess(
            tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}", agent_id="footprint-agent",
            logs={"files": {"globs": [str(tmp_path / "logs" / "*.log")]}, "journal": {"enabled": False},
                  "rules": {"packs": [str(tmp_path / "pack.yaml")]}},
            probes={"ports": [collector.grpc_port], "tcp": [f"127.0.0.1:{collector.grpc_port}"]})
        modules_file = tmp_path / "modules.txt"
        proc = subprocess.run([sys.executable, "-c", RUN_AND_RECORD, str(agent.config_path), str(modules_file)],
                              cwd=agent.dir, env=child_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        modules = set(modules_file.read_text().splitlines())
        # It really ran: transport, log rules and probes loaded, and the collector stored its batches.
        assert {"agent.runner", "agent.transport", "agent.logs.rules", "agent.probes.ports", "grpc"} <= modules
        with collector.db() as db:
            wait_for(lambda: len(stored_batches(db, "footprint-agent")) >= 1, 30, "batches at the collector")
        heavy = sorted(m for m in modules if m.split(".")[0] in ("pydantic", "pydantic_core", "yaml"))
        assert heavy == [], f"the running agent imported {heavy}"
        unused = sorted(modules & {"ssl", "_ssl", "hashlib", "_hashlib", "argparse", "agent.configcheck"})
        assert unused == [], f"the running agent holds {unused}"
    finally:
        collector.kill()
