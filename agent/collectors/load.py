"""Run-queue load averages, absolute and per logical CPU."""

from __future__ import annotations

import os
from typing import ClassVar

import psutil

from agent.collectors.options import OptionSpec
from agent.model import Sample


class LoadCollector:
    """``load.load{1,5,15}`` and ``load.load{1,5,15}_per_core``."""

    name = "load"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {}

    def __init__(self) -> None:
        # Where the OS has no load average (Windows) psutil emulates it with a background sampler
        # whose first answer is (0, 0, 0): that call only starts it and is not a measurement.
        self._primed = hasattr(os, "getloadavg")

    def collect(self) -> list[Sample]:
        averages = psutil.getloadavg()
        if not self._primed:
            self._primed = True
            return []
        return load_samples(averages, psutil.cpu_count(logical=True))


def load_samples(averages: tuple[float, float, float], cpus: int | None) -> list[Sample]:
    """``load.load{1,5,15}``, and per logical CPU where the count is known (also the SSH poller's)."""
    samples = [Sample(f"load.load{window}", value) for window, value in zip((1, 5, 15), averages, strict=True)]
    if cpus:
        samples.extend(
            Sample(f"load.load{window}_per_core", value / cpus)
            for window, value in zip((1, 5, 15), averages, strict=True)
        )
    return samples
