from __future__ import annotations

import collections

import psutil
import pytest

from agent.collectors.memory import MemoryCollector
from tests.agent_collectors.helpers import assert_catalogued, values

Swap = collections.namedtuple("Swap", "total used free percent sin sout")


def test_real_memory_is_consistent() -> None:
    samples = MemoryCollector().collect()
    assert_catalogued(samples)
    v = values(samples)
    assert v["mem.total_bytes"] == psutil.virtual_memory().total
    assert 0 < v["mem.available_bytes"] <= v["mem.total_bytes"]
    assert v["mem.used_bytes"] + v["mem.available_bytes"] == v["mem.total_bytes"]
    assert v["mem.used_percent"] + v["mem.available_percent"] == pytest.approx(100.0)
    assert v["mem.used_percent"] == pytest.approx(v["mem.used_bytes"] / v["mem.total_bytes"] * 100)
    assert 0 < v["mem.used_percent"] < 100
    swap = psutil.swap_memory()
    assert v["swap.total_bytes"] == swap.total
    assert 0 <= v["swap.used_bytes"] <= v["swap.total_bytes"]
    assert ("swap.used_percent" in v) == (swap.total > 0)


def test_swap_percent_absent_without_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "swap_memory", lambda: Swap(0, 0, 0, 0.0, 0, 0))
    v = values(MemoryCollector().collect())
    assert v["swap.total_bytes"] == 0.0
    assert "swap.used_percent" not in v


def test_swap_percent_with_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "swap_memory", lambda: Swap(4096, 1024, 3072, 25.0, 0, 0))
    v = values(MemoryCollector().collect())
    assert v["swap.used_bytes"] == 1024.0
    assert v["swap.used_percent"] == 25.0
