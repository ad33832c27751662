"""Log events through real agent and collector processes: rotation in both styles, and a restart."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.integration.harness import AgentProcess, CollectorProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PACK = """\
version: 1
rules:
  - id: test.marker
    name: {zh: 测试标记, en: Test marker}
    severity: warning
    match: {regex: 'PATROLTEST (?P<n>\\d+)'}
"""


def write(path: Path, start: int, count: int, partial_tail: bool = False) -> int:
    with path.open("a") as f:
        for n in range(start, start + count):
            f.write(f"2026-11-21T10:00:00Z app[1]: PATROLTEST {n} something happened\n")
            f.flush()
        if partial_tail:
            f.write(f"2026-11-21T10:00:00Z app[1]: PATROLTEST {start + count} half")
    return start + count


def stored_numbers(collector: CollectorProcess) -> list[int]:
    with collector.db() as db:
        rows = db.execute("SELECT line FROM events WHERE host_id='log-agent' AND rule='test.marker'").fetchall()
    return sorted(int(r[0].split("PATROLTEST ")[1].split()[0]) for r in rows)


def test_rotation_and_restart_deliver_every_line_once(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    (tmp_path / "pack.yaml").write_text(PACK)
    log = logdir / "app.log"
    log.write_text("")  # exists before the agent: the agent starts at its end, so nothing is read twice
    collector = CollectorProcess(tmp_path / "collector").start()
    agent = AgentProcess(
        tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}", agent_id="log-agent",
        log_poll_interval=0.2,
        logs={"files": {"globs": [str(logdir / "*.log")]}, "journal": {"enabled": False},
        "rules": {"default": False, "packs": [str(tmp_path / "pack.yaml")]},
        "rate_limit": {"burst": 100000, "per_second": 100000}, "rotate_wait_s": 3}).start()
    # The agent starts at the end of a file it finds, so lines written before it opened the file
    # would not be read: write only once it follows the file (a loaded machine starts it slowly).
    wait_for(lambda: agent.log_path.exists() and f"tail_open path={log} " in agent.log_path.read_text(), 60,
             "the agent to follow app.log")
    n = write(log, 0, 50)
    wait_for(lambda: len(stored_numbers(collector)) >= 50, 60, "first lines")
    # Rename rotation: the old file gets a few late lines, then a new file appears.
    os.rename(log, logdir / "app.log.1")
    n = write(logdir / "app.log.1", n, 10)
    n = write(log, n, 40)
    wait_for(lambda: len(stored_numbers(collector)) >= n, 60, "lines across rename rotation")
    # copytruncate rotation
    shutil.copy(log, logdir / "app.log.2")
    with log.open("r+") as f:
        f.truncate(0)
    n = write(log, n, 30, partial_tail=True)
    wait_for(lambda: len(stored_numbers(collector)) >= n, 60, "lines across copytruncate")
    # Restart in the middle of the file, with a partial last line pending.
    assert agent.stop() == 0
    with log.open("a") as f:
        f.write(" and completed later\n")
    n += 1
    n = write(log, n, 25)
    agent.start()
    n = write(log, n, 25)
    wait_for(lambda: len(stored_numbers(collector)) >= n, 60, "lines after the restart")
    time.sleep(1.5)
    assert agent.stop() == 0
    got = stored_numbers(collector)
    missing = sorted(set(range(n)) - set(got))[:10]
    assert got == list(range(n)), f"missing {missing}, duplicates {len(got) - len(set(got))}"
    out = collector.get("/api/v1/hosts/log-agent/events/counts", since="30d")
    assert out["counts"][0]["rule"] == "test.marker" and out["counts"][0]["total"] == n
    collector.kill(signal.SIGTERM)
