from __future__ import annotations

import os

import psutil
import pytest

from agent.collectors.load import LoadCollector
from tests.agent_collectors.helpers import assert_catalogued, values


def test_real_load_and_per_core() -> None:
    samples = LoadCollector().collect()
    assert_catalogued(samples)
    v = values(samples)
    cpus = psutil.cpu_count()
    assert cpus
    for window in ("load1", "load5", "load15"):
        assert 0.0 <= v[f"load.{window}"] < 100.0 * cpus
        assert v[f"load.{window}_per_core"] == pytest.approx(v[f"load.{window}"] / cpus)


def test_per_core_divides_by_logical_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "getloadavg", lambda: (2.0, 1.0, 0.5))
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 4 if logical else 2)
    assert values(LoadCollector().collect()) == {
        "load.load1": 2.0,
        "load.load5": 1.0,
        "load.load15": 0.5,
        "load.load1_per_core": 0.5,
        "load.load5_per_core": 0.25,
        "load.load15_per_core": 0.125,
    }


def test_unknown_cpu_count_gives_no_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "getloadavg", lambda: (2.0, 1.0, 0.5))
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: None)
    assert set(values(LoadCollector().collect())) == {"load.load1", "load.load5", "load.load15"}


def test_emulated_load_skips_the_priming_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows: no os.getloadavg; psutil's emulation answers (0, 0, 0) until it has sampled.
    monkeypatch.delattr(os, "getloadavg", raising=False)
    answers = iter([(0.0, 0.0, 0.0), (0.3, 0.2, 0.1)])
    monkeypatch.setattr(psutil, "getloadavg", lambda: next(answers))
    load = LoadCollector()
    assert load.collect() == []
    assert values(load.collect())["load.load1"] == 0.3
