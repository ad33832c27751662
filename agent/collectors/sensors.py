"""Hardware temperatures and fan speeds, where the platform exposes them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import psutil

from agent.collectors.options import OptionSpec
from agent.model import Sample, labels_of


class SensorsCollector:
    """``sensors.temperature_celsius`` and ``sensors.fan_rpm`` labelled ``chip`` and ``sensor``.

    Virtual machines, containers, macOS and Windows usually have no sensors psutil can read; then
    nothing is reported (never a made-up 0).
    """

    name = "sensors"
    default_interval = 60.0
    options: ClassVar[OptionSpec] = {}

    def collect(self) -> list[Sample]:
        samples = _read("sensors.temperature_celsius", getattr(psutil, "sensors_temperatures", None), "temp")
        samples += _read("sensors.fan_rpm", getattr(psutil, "sensors_fans", None), "fan")
        return samples


def _read(series: str, source: Callable[[], dict[str, list[Any]]] | None, kind: str) -> list[Sample]:
    if source is None:
        return []
    samples: list[Sample] = []
    for chip, entries in (source() or {}).items():
        for sensor, value in zip(_sensor_names(kind, entries), (e.current for e in entries), strict=True):
            if value is None or not math.isfinite(value):
                continue
            samples.append(Sample(series, float(value), labels_of({"chip": chip, "sensor": sensor})))
    return samples


def _sensor_names(kind: str, entries: Iterable[Any]) -> list[str]:
    # Unlabelled inputs get hwmon-style names (temp1, fan2); several devices of one driver (two
    # NVMe drives, both "Composite") share a chip name, so repeats get "#2", "#3" to stay distinct.
    names = [e.label or f"{kind}{i}" for i, e in enumerate(entries, start=1)]
    seen: Counter[str] = Counter()
    unique: list[str] = []
    for name in names:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return unique
