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
        swap = psutil.swap_memory()
        return memory_samples(mem.total, mem.available) + swap_samples(swap.total, swap.used)


def memory_samples(total: int, available: int) -> list[Sample]:
    """``mem.*`` from total and available bytes: used is what the kernel cannot hand out without swapping.

    The collector's SSH poller derives an agentless host's memory series with this same function.
    """
    samples = [Sample("mem.total_bytes", float(total)), Sample("mem.available_bytes", float(available))]
    if total > 0:
        used = max(0, total - available)
        samples += [
            Sample("mem.used_bytes", float(used)),
            Sample("mem.used_percent", used / total * 100.0),
            Sample("mem.available_percent", available / total * 100.0),
        ]
    return samples


def swap_samples(total: int, used: int) -> list[Sample]:
    """``swap.*``; ``swap.used_percent`` only when there is swap."""
    samples = [Sample("swap.total_bytes", float(total)), Sample("swap.used_bytes", float(used))]
    if total > 0:
        samples.append(Sample("swap.used_percent", used / total * 100.0))
    return samples
