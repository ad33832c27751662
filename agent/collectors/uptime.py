"""Time since boot and the boot time itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

import psutil

from agent.collectors.options import OptionSpec
from agent.model import Sample


class UptimeCollector:
    """``system.uptime_seconds`` and ``system.boot_time_seconds`` (unix seconds)."""

    name = "uptime"
    default_interval = 60.0
    options: ClassVar[OptionSpec] = {}

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall clock, unix seconds

    def collect(self) -> list[Sample]:
        boot = psutil.boot_time()
        return [
            Sample("system.uptime_seconds", max(0.0, self._clock() - boot)),
            Sample("system.boot_time_seconds", float(boot)),
        ]
