from __future__ import annotations

import collections
import time

import psutil
import pytest

from agent.collectors.cpu import CpuCollector
from tests.agent_collectors.helpers import assert_catalogued, values

LinuxTimes = collections.namedtuple(
    "LinuxTimes", ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"]
)
WindowsTimes = collections.namedtuple("WindowsTimes", ["user", "system", "idle", "interrupt", "dpc"])


def _burn_cpu() -> None:
    start = time.process_time()
    while time.process_time() - start < 0.05:
        pass


def test_real_first_call_is_empty_then_shares_of_all_cpus() -> None:
    cpu = CpuCollector()
    assert cpu.collect() == []
    _burn_cpu()
    samples = cpu.collect()
    assert_catalogued(samples)
    v = values(samples)
    for name, value in v.items():
        assert 0.0 <= value <= 100.0, name
    parts = sum(value for name, value in v.items() if name != "cpu.busy_percent")
    assert parts == pytest.approx(100.0, abs=1e-6)
    expected_busy = 100.0 - v["cpu.idle_percent"] - v.get("cpu.iowait_percent", 0) - v.get("cpu.steal_percent", 0)
    assert v["cpu.busy_percent"] == pytest.approx(expected_busy, abs=1e-6)
    # We burnt CPU ourselves in between, so the machine was not idle.
    assert v["cpu.busy_percent"] > 0
    if psutil.LINUX:
        assert {"cpu.iowait_percent", "cpu.steal_percent", "cpu.irq_percent", "cpu.softirq_percent"} <= set(v)


def test_percentages_from_deltas(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter(
        [
            LinuxTimes(100, 10, 50, 1000, 20, 1, 2, 3, 40, 0),
            # +30 user (of which +10 guest), +0 nice, +10 system, +50 idle, +5 iowait, +2 irq, +1 softirq, +2 steal
            LinuxTimes(130, 10, 60, 1050, 25, 3, 3, 5, 50, 0),
        ]
    )
    monkeypatch.setattr(psutil, "cpu_times", lambda: next(readings))
    cpu = CpuCollector()
    assert cpu.collect() == []
    v = values(cpu.collect())
    # guest time is already inside user, so the total is 100, not 110.
    assert v == pytest.approx(
        {
            "cpu.user_percent": 30.0,
            "cpu.nice_percent": 0.0,
            "cpu.system_percent": 10.0,
            "cpu.idle_percent": 50.0,
            "cpu.iowait_percent": 5.0,
            "cpu.irq_percent": 2.0,
            "cpu.softirq_percent": 1.0,
            "cpu.steal_percent": 2.0,
            "cpu.busy_percent": 43.0,
        }
    )


def test_iowait_going_backwards_is_clamped(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter(
        [
            LinuxTimes(0, 0, 0, 0, 50, 0, 0, 0, 0, 0),
            LinuxTimes(25, 0, 25, 50, 40, 0, 0, 0, 0, 0),
        ]
    )
    monkeypatch.setattr(psutil, "cpu_times", lambda: next(readings))
    cpu = CpuCollector()
    cpu.collect()
    v = values(cpu.collect())
    assert v["cpu.iowait_percent"] == 0.0
    assert v["cpu.user_percent"] == pytest.approx(25.0)
    assert v["cpu.busy_percent"] == pytest.approx(50.0)


def test_windows_fields_map_to_irq_and_softirq_without_iowait(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([WindowsTimes(0, 0, 0, 0, 0), WindowsTimes(20, 10, 60, 6, 4)])
    monkeypatch.setattr(psutil, "cpu_times", lambda: next(readings))
    cpu = CpuCollector()
    cpu.collect()
    samples = cpu.collect()
    assert_catalogued(samples)
    v = values(samples)
    assert "cpu.iowait_percent" not in v and "cpu.steal_percent" not in v and "cpu.nice_percent" not in v
    assert v["cpu.irq_percent"] == pytest.approx(6.0)
    assert v["cpu.softirq_percent"] == pytest.approx(4.0)
    assert v["cpu.busy_percent"] == pytest.approx(40.0)


def test_no_time_passed_gives_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    same = LinuxTimes(1, 1, 1, 1, 1, 1, 1, 1, 0, 0)
    monkeypatch.setattr(psutil, "cpu_times", lambda: same)
    cpu = CpuCollector()
    cpu.collect()
    assert cpu.collect() == []
