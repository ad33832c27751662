"""CPU utilisation as a share of all CPUs, from deltas of ``psutil.cpu_times()`` between calls."""

from __future__ import annotations

from typing import ClassVar

import psutil

from agent.collectors.options import OptionSpec
from agent.model import Sample

# psutil field -> series. Windows has no irq/softirq but reports hardware interrupt and DPC
# (deferred procedure call) time, which are the same two kinds of kernel work.
CPU_SERIES: dict[str, str] = {
    "user": "cpu.user_percent",
    "system": "cpu.system_percent",
    "idle": "cpu.idle_percent",
    "nice": "cpu.nice_percent",
    "iowait": "cpu.iowait_percent",
    "irq": "cpu.irq_percent",
    "softirq": "cpu.softirq_percent",
    "steal": "cpu.steal_percent",
    "interrupt": "cpu.irq_percent",
    "dpc": "cpu.softirq_percent",
}
# On Linux guest time is already included in user/nice; counting it again would inflate the total.
EXCLUDED_FROM_TOTAL = frozenset({"guest", "guest_nice"})
# Time in which no work was done for this machine: busy is what remains.
NOT_BUSY = ("idle", "iowait", "steal")


class CpuCollector:
    """``cpu.*_percent`` over the interval since the previous call; nothing on the first call."""

    name = "cpu"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {}

    def __init__(self) -> None:
        self._previous: dict[str, float] | None = None

    def collect(self) -> list[Sample]:
        current: dict[str, float] = psutil.cpu_times()._asdict()
        previous, self._previous = self._previous, current
        if previous is None:
            return []
        return cpu_samples(previous, current)


def cpu_samples(previous: dict[str, float], current: dict[str, float]) -> list[Sample]:
    """``cpu.*_percent`` between two readings of CPU time per field (psutil's or ``/proc/stat``'s).

    The collector's SSH poller computes an agentless host's CPU shares with this same function.
    """
    # iowait in /proc/stat can go backwards on Linux (it is an estimate per idle CPU), so a
    # negative delta is clamped rather than allowed to push other shares above 100.
    deltas = {field: max(0.0, current[field] - previous.get(field, current[field])) for field in current}
    total = sum(value for field, value in deltas.items() if field not in EXCLUDED_FROM_TOTAL)
    if total <= 0:
        return []
    percents = {field: deltas[field] / total * 100.0 for field in deltas if field in CPU_SERIES}
    samples = [Sample(CPU_SERIES[field], value) for field, value in percents.items()]
    busy = 100.0 - sum(percents.get(field, 0.0) for field in NOT_BUSY)
    samples.append(Sample("cpu.busy_percent", min(100.0, max(0.0, busy))))
    return samples


__all__ = ["CpuCollector", "cpu_samples"]
