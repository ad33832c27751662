"""The agent's own footprint as series: CPU, RSS, spool depth and drops."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil

from agent.model import Sample


class FootprintCollector:
    name = "agent"
    default_interval = 10.0

    def __init__(self, spool_stats: Callable[[], Any]) -> None:
        self._proc = psutil.Process()
        self._spool_stats = spool_stats
        self._last: tuple[float, float] | None = None

    def collect(self) -> list[Sample]:
        t = self._proc.cpu_times()
        cpu = t.user + t.system
        now = time.monotonic()
        out = [Sample.of("agent.rss_bytes", self._proc.memory_info().rss)]
        if self._last is not None and now > self._last[0]:
            out.append(Sample.of("agent.cpu_percent", 100.0 * (cpu - self._last[1]) / (now - self._last[0])))
        self._last = (now, cpu)
        st = self._spool_stats()
        out += [
            Sample.of("agent.spool_batches", st.depth_batches),
            Sample.of("agent.spool_bytes", st.depth_bytes),
            Sample.of("agent.spool_dropped_batches_total", st.dropped_batches),
            Sample.of("agent.spool_dropped_samples_total", st.dropped_samples),
        ]
        return out
