"""Physical memory and swap."""

from __future__ import annotations

from typing import ClassVar

import psutil

from agent.collectors.options import OptionSpec
from agent.model import Sample


class MemoryCollector:
    """``mem.*`` and ``swap.*``.

    ``mem.used_bytes`` is ``total - available``: memory the kernel cannot hand out without
    swapping, which is what ``mem.used_percent`` (and every capacity check on it) measures, so
    bytes and percent always agree. psutil's own ``used`` leaves out reclaimable caches differently
    per platform and would disagree with the percentage.
    """

    name = "memory"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {}

    def collect(self) -> list[Sample]:
        mem = psutil.virtual_memory()
        samples = [Sample("mem.total_bytes", float(mem.total)), Sample("mem.available_bytes", float(mem.available))]
        if mem.total > 0:
            used = max(0, mem.total - mem.available)
            samples += [
                Sample("mem.used_bytes", float(used)),
                Sample("mem.used_percent", used / mem.total * 100.0),
                Sample("mem.available_percent", mem.available / mem.total * 100.0),
            ]
        swap = psutil.swap_memory()
        samples += [Sample("swap.total_bytes", float(swap.total)), Sample("swap.used_bytes", float(swap.used))]
        if swap.total > 0:
            samples.append(Sample("swap.used_percent", swap.used / swap.total * 100.0))
        return samples
