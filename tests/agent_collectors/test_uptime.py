from __future__ import annotations

import psutil
import pytest

from agent.collectors.uptime import UptimeCollector
from tests.agent_collectors.helpers import assert_catalogued, values


def test_uptime_is_wall_clock_minus_boot_time() -> None:
    boot = psutil.boot_time()
    samples = UptimeCollector(clock=lambda: boot + 3600.5).collect()
    assert_catalogued(samples)
    assert values(samples) == {"system.uptime_seconds": 3600.5, "system.boot_time_seconds": boot}


def test_real_values_are_sane() -> None:
    v = values(UptimeCollector().collect())
    assert v["system.uptime_seconds"] > 0
    assert v["system.boot_time_seconds"] > 1_000_000_000  # after 2001


def test_clock_behind_boot_time_gives_zero_not_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "boot_time", lambda: 2_000_000_000.0)
    assert values(UptimeCollector(clock=lambda: 1_999_999_990.0).collect())["system.uptime_seconds"] == 0.0
