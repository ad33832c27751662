from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from agent.collectors import procfs
from agent.collectors.procs import ProcsCollector
from tests.agent_collectors.helpers import assert_catalogued, values
from tests.agent_collectors.procfs_fixture import FakeProc, stat_line


def test_counts_by_state_from_proc(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    for pid, state, threads in [(1, "S", 1), (2, "R", 4), (3, "R", 1), (4, "D", 1), (5, "I", 1), (6, "Z", 1),
                                (7, "T", 1), (8, "t", 1), (9, "X", 1), (10, "S", 30)]:  # fmt: skip
        proc.set(pid, f"p{pid}", state, threads=threads)
    (tmp_path / "sys").mkdir()  # non-pid entries are ignored
    samples = ProcsCollector(proc_root=str(tmp_path)).collect()
    assert_catalogued(samples)
    assert values(samples) == {
        "procs.total": 10.0,
        "procs.running": 2.0,
        "procs.sleeping": 4.0,  # S, D, I and S
        "procs.zombie": 1.0,
        "procs.stopped": 2.0,
        "procs.threads": 42.0,
    }


def test_parse_stat_with_awkward_command_names() -> None:
    line = stat_line(42, "we) (ird )name", "R", threads=3, utime=7, stime=5, start=999, rss_pages=12)
    st = procfs.parse_stat(42, line.encode())
    assert st == procfs.ProcStat(42, "we) (ird )name", "R", 3, 12, 999, 12)
    assert procfs.parse_stat(1, b"garbage") is None
    assert procfs.parse_stat(1, b"1 (x) S 1 2") is None


def test_without_proc_uses_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    procs = [
        SimpleNamespace(info={"status": psutil.STATUS_RUNNING, "num_threads": 3}),
        SimpleNamespace(info={"status": psutil.STATUS_IDLE, "num_threads": 1}),
        SimpleNamespace(info={"status": psutil.STATUS_ZOMBIE, "num_threads": None}),  # access denied
        SimpleNamespace(info={"status": psutil.STATUS_STOPPED, "num_threads": 2}),
        SimpleNamespace(info={"status": None, "num_threads": None}),
    ]
    monkeypatch.setattr(psutil, "LINUX", False)
    monkeypatch.setattr(psutil, "process_iter", lambda attrs=None: iter(procs))
    assert values(ProcsCollector().collect()) == {
        "procs.total": 5.0,
        "procs.running": 1.0,
        "procs.sleeping": 1.0,
        "procs.zombie": 1.0,
        "procs.stopped": 1.0,
        "procs.threads": 6.0,
    }


def _wait_for_state(pid: int, state: str) -> None:
    deadline = time.monotonic() + 10
    while psutil.Process(pid).status() != state:
        assert time.monotonic() < deadline, f"process {pid} never reached {state}"
        time.sleep(0.01)


@pytest.fixture
def zombie_and_stopped() -> Iterator[None]:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    stopped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(stopped.pid, signal.SIGSTOP)
        _wait_for_state(zombie.pid, psutil.STATUS_ZOMBIE)  # exited, not yet waited for
        _wait_for_state(stopped.pid, psutil.STATUS_STOPPED)
        yield
    finally:
        stopped.kill()
        stopped.wait()
        zombie.wait()


def test_real_processes_include_our_zombie_and_stopped_child(zombie_and_stopped: None) -> None:
    samples = ProcsCollector().collect()
    assert_catalogued(samples)
    v = values(samples)
    assert v["procs.zombie"] >= 1
    assert v["procs.stopped"] >= 1
    assert v["procs.running"] >= 1  # this test itself
    by_state = v["procs.running"] + v["procs.sleeping"] + v["procs.zombie"] + v["procs.stopped"]
    assert by_state <= v["procs.total"] <= v["procs.threads"]
    assert v["procs.total"] >= 3
