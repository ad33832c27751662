"""The processes using the most CPU and memory, grouped by process name."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import ClassVar, NamedTuple

import psutil

from agent.collectors import procfs
from agent.collectors.options import OptionSpec, positive_int
from agent.model import Sample, labels_of

# A process is identified by pid and start time, so a reused pid is a new process.
ProcessKey = tuple[int, float]


class _Proc(NamedTuple):
    key: ProcessKey
    name: str
    cpu_seconds: float  # user + system since the process started
    rss_bytes: int


class TopCollector:
    """``top.cpu_percent``, ``top.rss_bytes`` and ``top.count`` per process name (label ``process``).

    Reports the union of the ``limit`` names using the most CPU and the ``limit`` names using the
    most resident memory. ``top.cpu_percent`` is the share of all CPUs (0-100, comparable with
    ``cpu.busy_percent``) used by all processes of that name since the previous call, measured
    from their CPU time counters, so it appears from the second call on.
    """

    name = "top"
    default_interval = 60.0
    options: ClassVar[OptionSpec] = {"limit": positive_int}

    def __init__(
        self,
        *,
        limit: int = 10,
        clock: Callable[[], float] = time.monotonic,
        proc_root: str | None = None,
    ) -> None:
        self._limit = limit
        self._clock = clock
        self._proc_root = proc_root or procfs.default_root()
        self._use_procfs = proc_root is not None or (psutil.LINUX and procfs.available(self._proc_root))
        self._previous: dict[ProcessKey, float] | None = None
        self._previous_at = 0.0

    def _processes(self) -> Iterable[_Proc]:
        if self._use_procfs:
            ticks = os.sysconf("SC_CLK_TCK")
            page = os.sysconf("SC_PAGE_SIZE")
            for st in procfs.scan(self._proc_root):
                yield _Proc((st.pid, st.start_ticks), st.comm, st.cpu_ticks / ticks, st.rss_pages * page)
            return
        for proc in psutil.process_iter(["name", "cpu_times", "memory_info", "create_time"]):
            info = proc.info
            # Fields are None where access is denied (other users' processes on macOS, Windows).
            if info["cpu_times"] is None or info["memory_info"] is None:
                continue
            yield _Proc(
                (proc.pid, info["create_time"] or 0.0),
                info["name"] or str(proc.pid),
                info["cpu_times"].user + info["cpu_times"].system,
                info["memory_info"].rss,
            )

    def collect(self) -> list[Sample]:
        rss: defaultdict[str, int] = defaultdict(int)
        count: defaultdict[str, int] = defaultdict(int)
        cpu: defaultdict[str, float] = defaultdict(float)
        current: dict[ProcessKey, float] = {}
        for proc in self._processes():
            current[proc.key] = proc.cpu_seconds
            rss[proc.name] += proc.rss_bytes
            count[proc.name] += 1
            if self._previous is not None:
                # A process absent from the previous scan started after it, so all of its CPU
                # time was spent within this interval.
                used = proc.cpu_seconds - self._previous.get(proc.key, 0.0)
                cpu[proc.name] += max(0.0, used)
        now = self._clock()
        had_previous = self._previous is not None
        elapsed = now - self._previous_at
        self._previous, self._previous_at = current, now

        cpu_percent: dict[str, float] | None = None
        if had_previous and elapsed > 0:
            capacity = elapsed * (psutil.cpu_count(logical=True) or 1)
            cpu_percent = {name: min(100.0, used / capacity * 100.0) for name, used in cpu.items()}

        chosen = set(self._largest(rss))
        if cpu_percent is not None:
            chosen.update(self._largest(cpu_percent))
        samples: list[Sample] = []
        for name in sorted(chosen):
            labels = labels_of({"process": name})
            if cpu_percent is not None:
                samples.append(Sample("top.cpu_percent", cpu_percent.get(name, 0.0), labels))
            samples.append(Sample("top.rss_bytes", float(rss[name]), labels))
            samples.append(Sample("top.count", float(count[name]), labels))
        return samples

    def _largest(self, values: dict[str, float] | dict[str, int]) -> list[str]:
        # An idle process is not a "top CPU" one and kernel threads have no RSS: zeros never rank.
        # Ties are broken by name so the same load gives the same series.
        candidates = [(name, v) for name, v in values.items() if v > 0]
        candidates.sort(key=lambda item: (-item[1], item[0]))
        return [name for name, _ in candidates[: self._limit]]
