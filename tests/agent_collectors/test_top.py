from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from agent.collectors.top import TopCollector
from tests.agent_collectors.helpers import ManualClock, assert_catalogued, by_key
from tests.agent_collectors.procfs_fixture import FakeProc

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
CPUS = psutil.cpu_count() or 1


def _per_process(samples: list) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for (name, labels), value in by_key(samples).items():
        result[dict(labels)["process"]][name] = value
    return dict(result)


def test_groups_by_name_and_measures_cpu_between_calls(tmp_path: Path, clock: ManualClock) -> None:
    proc = FakeProc(tmp_path)
    proc.set(10, "nginx", utime=100, start=50, rss_pages=1000)
    proc.set(11, "nginx", utime=200, start=51, rss_pages=500)
    proc.set(20, "postgres", utime=5000, start=60, rss_pages=9000)
    proc.set(30, "kworker/0:1", utime=10, start=5)  # kernel thread: no RSS
    top = TopCollector(clock=clock, proc_root=str(tmp_path))
    first = _per_process(top.collect())
    # First call: memory only; CPU needs a previous reading. Kernel threads without RSS never rank.
    assert first == {
        "nginx": {"top.rss_bytes": 1500.0 * PAGE, "top.count": 2.0},
        "postgres": {"top.rss_bytes": 9000.0 * PAGE, "top.count": 1.0},
    }

    clock.advance(10)
    proc.set(10, "nginx", utime=100 + 2 * TICKS, stime=TICKS, start=50, rss_pages=1000)  # +3 s
    proc.set(11, "nginx", utime=200, start=51, rss_pages=500)
    proc.set(30, "kworker/0:1", utime=10 + TICKS, start=5)  # +1 s
    proc.remove(20)
    proc.set(40, "backup", utime=TICKS // 2, start=900, rss_pages=10)  # started since: all 0.5 s count
    samples = top.collect()
    assert_catalogued(samples)
    result = _per_process(samples)
    capacity = 10 * CPUS
    assert set(result) == {"nginx", "kworker/0:1", "backup"}
    assert result["nginx"] == {
        "top.cpu_percent": pytest.approx(3 / capacity * 100),
        "top.rss_bytes": 1500.0 * PAGE,
        "top.count": 2.0,
    }
    assert result["kworker/0:1"]["top.cpu_percent"] == pytest.approx(1 / capacity * 100)
    assert result["backup"]["top.cpu_percent"] == pytest.approx(0.5 / capacity * 100)


def test_reused_pid_is_a_new_process(tmp_path: Path, clock: ManualClock) -> None:
    proc = FakeProc(tmp_path)
    proc.set(10, "old", utime=50 * TICKS, start=50, rss_pages=1)
    top = TopCollector(clock=clock, proc_root=str(tmp_path))
    top.collect()
    clock.advance(10)
    proc.set(10, "new", utime=TICKS, start=700, rss_pages=1)  # same pid, later start, less CPU time
    result = _per_process(top.collect())
    assert result["new"]["top.cpu_percent"] == pytest.approx(1 / (10 * CPUS) * 100)


def test_limit_applies_to_cpu_and_memory_rankings_separately(tmp_path: Path, clock: ManualClock) -> None:
    proc = FakeProc(tmp_path)
    for i in range(6):
        proc.set(100 + i, f"p{i}", utime=0, start=1, rss_pages=(i + 1) * 100)
    top = TopCollector(limit=2, clock=clock, proc_root=str(tmp_path))
    assert set(_per_process(top.collect())) == {"p5", "p4"}
    clock.advance(60)
    proc.set(100, "p0", utime=9 * TICKS, start=1, rss_pages=100)
    proc.set(101, "p1", utime=3 * TICKS, start=1, rss_pages=200)
    proc.set(102, "p2", utime=6 * TICKS, start=1, rss_pages=300)
    result = _per_process(top.collect())
    # Top 2 by CPU (p0, p2) plus top 2 by memory (p5, p4), with all three series each.
    assert set(result) == {"p0", "p2", "p5", "p4"}
    assert result["p5"]["top.cpu_percent"] == 0.0
    assert all(len(series) == 3 for series in result.values())


def test_without_proc_uses_psutil(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    def proc(pid: int, name: str | None, cpu: float | None, rss: int) -> SimpleNamespace:
        times = None if cpu is None else SimpleNamespace(user=cpu, system=0.0)
        return SimpleNamespace(
            pid=pid,
            info={"name": name, "cpu_times": times, "memory_info": SimpleNamespace(rss=rss), "create_time": 1.0},
        )

    rounds = iter(
        [
            [proc(1, "svc", 10.0, 100), proc(2, None, None, 999)],  # access denied: skipped
            [proc(1, "svc", 10.0 + 0.2 * CPUS, 100), proc(2, None, None, 999)],
        ]
    )
    monkeypatch.setattr(psutil, "LINUX", False)
    monkeypatch.setattr(psutil, "process_iter", lambda attrs=None: iter(next(rounds)))
    top = TopCollector(clock=clock)
    assert _per_process(top.collect()) == {"svc": {"top.rss_bytes": 100.0, "top.count": 1.0}}
    clock.advance(1)
    assert _per_process(top.collect())["svc"]["top.cpu_percent"] == pytest.approx(20.0)


BURNER = """
import sys
with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
if sys.argv[2] == "hog":
    ballast = b"x" * (64 * 1024 * 1024)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.read()
else:
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    while True:
        pass
"""


@pytest.fixture
def child() -> Iterator[Callable[[str, str], psutil.Process]]:
    started: list[subprocess.Popen[str]] = []

    def start(comm: str, kind: str) -> psutil.Process:
        p = subprocess.Popen(
            [sys.executable, "-c", BURNER, comm, kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        started.append(p)
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
        return psutil.Process(p.pid)

    yield start
    for p in started:
        p.kill()
        p.wait()


@pytest.mark.skipif(not psutil.LINUX, reason="names the child through /proc/self/comm")
def test_real_busy_child_and_memory_hog(child: Callable[[str, str], psutil.Process], clock: ManualClock) -> None:
    hog = child("patrol-hog", "hog")
    burner = child("patrol-burner", "burn")
    # A limit above the number of names keeps the test independent of what else runs here.
    top = TopCollector(limit=100_000, clock=clock)
    c0 = sum(burner.cpu_times()[:2])
    top.collect()
    c1 = sum(burner.cpu_times()[:2])
    # Let the burner use some CPU; bounded by a deadline, the assertion is on counters, not time.
    deadline = time.monotonic() + 10
    while sum(burner.cpu_times()[:2]) - c1 < 0.2 and time.monotonic() < deadline:
        time.sleep(0.02)
    clock.advance(10)
    c2 = sum(burner.cpu_times()[:2])
    samples = top.collect()
    c3 = sum(burner.cpu_times()[:2])
    assert_catalogued(samples)
    result = _per_process(samples)
    used = result["patrol-burner"]["top.cpu_percent"] / 100 * 10 * CPUS
    tick = 1 / TICKS
    assert c2 - c1 - tick <= used <= c3 - c0 + tick
    assert result["patrol-burner"]["top.count"] == 1.0
    assert result["patrol-hog"]["top.rss_bytes"] >= 64 * 1024 * 1024
    assert result["patrol-hog"]["top.rss_bytes"] == pytest.approx(hog.memory_info().rss, rel=0.05)
    for series in result.values():
        assert 0.0 <= series["top.cpu_percent"] <= 100.0
