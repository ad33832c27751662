from __future__ import annotations

import collections

import psutil
import pytest

from agent.collectors.sensors import SensorsCollector
from tests.agent_collectors.helpers import assert_catalogued, by_key

Temp = collections.namedtuple("Temp", "label current high critical")
Fan = collections.namedtuple("Fan", "label current")


def test_real_sensors_match_psutil() -> None:
    samples = SensorsCollector().collect()
    assert_catalogued(samples)
    temps: dict[str, list[object]] = getattr(psutil, "sensors_temperatures", dict)()
    fans: dict[str, list[object]] = getattr(psutil, "sensors_fans", dict)()
    expected = sum(len(v) for v in temps.values()) + sum(len(v) for v in fans.values())
    assert len(samples) <= expected
    if not temps and not fans:
        assert samples == []  # a VM or container: nothing, never a made-up 0


def test_platform_without_sensor_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(psutil, "sensors_temperatures", raising=False)
    monkeypatch.delattr(psutil, "sensors_fans", raising=False)
    assert SensorsCollector().collect() == []


def test_supported_but_no_sensors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {})
    monkeypatch.setattr(psutil, "sensors_fans", lambda: {})
    assert SensorsCollector().collect() == []


def test_labels_are_unique_and_unreadable_inputs_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    temps = {
        "coretemp": [Temp("Package id 0", 48.0, 80.0, 100.0), Temp("Core 0", 45.0, 80.0, 100.0)],
        "nvme": [Temp("Composite", 38.9, 84.8, 84.8), Temp("Composite", 41.0, 84.8, 84.8)],
        "acpitz": [Temp("", 27.8, None, None), Temp("", None, None, None), Temp("", float("nan"), None, None)],
    }
    fans = {"thinkpad": [Fan("", 2500)], "dell_smm": [Fan("Processor Fan", 0)]}
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: temps)
    monkeypatch.setattr(psutil, "sensors_fans", lambda: fans)
    samples = SensorsCollector().collect()
    assert_catalogued(samples)
    got = {(name, dict(labels)["chip"], dict(labels)["sensor"]): v for (name, labels), v in by_key(samples).items()}
    t = "sensors.temperature_celsius"
    assert got == {
        (t, "coretemp", "Package id 0"): 48.0,
        (t, "coretemp", "Core 0"): 45.0,
        (t, "nvme", "Composite"): 38.9,
        (t, "nvme", "Composite#2"): 41.0,
        (t, "acpitz", "temp1"): 27.8,
        ("sensors.fan_rpm", "thinkpad", "fan1"): 2500.0,
        ("sensors.fan_rpm", "dell_smm", "Processor Fan"): 0.0,  # a stopped fan is a real reading
    }
