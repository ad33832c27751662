"""Process and thread counts by state."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

import psutil

from agent.collectors import procfs
from agent.collectors.options import OptionSpec
from agent.model import Sample

# /proc state letter -> series. D (uninterruptible, mostly disk) and I (idle kernel thread) are
# kinds of sleep; X (dead) and anything unknown count only in procs.total.
_LINUX_STATES: dict[str, str] = {
    "R": "procs.running",
    "S": "procs.sleeping",
    "D": "procs.sleeping",
    "I": "procs.sleeping",
    "Z": "procs.zombie",
    "T": "procs.stopped",
    "t": "procs.stopped",
}
# psutil status -> series, for platforms without /proc.
_PSUTIL_STATES: dict[str, str] = {
    psutil.STATUS_RUNNING: "procs.running",
    psutil.STATUS_SLEEPING: "procs.sleeping",
    psutil.STATUS_DISK_SLEEP: "procs.sleeping",
    psutil.STATUS_IDLE: "procs.sleeping",
    psutil.STATUS_WAITING: "procs.sleeping",
    psutil.STATUS_LOCKED: "procs.sleeping",
    psutil.STATUS_PARKED: "procs.sleeping",
    psutil.STATUS_ZOMBIE: "procs.zombie",
    psutil.STATUS_STOPPED: "procs.stopped",
    psutil.STATUS_TRACING_STOP: "procs.stopped",
}
_BY_STATE = ("procs.running", "procs.sleeping", "procs.zombie", "procs.stopped")


class ProcsCollector:
    """``procs.total``, ``procs.{running,sleeping,zombie,stopped}`` and ``procs.threads``."""

    name = "procs"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {}

    def __init__(self, *, proc_root: str | None = None) -> None:
        self._proc_root = proc_root or procfs.default_root()
        self._use_procfs = proc_root is not None or (psutil.LINUX and procfs.available(self._proc_root))

    def collect(self) -> list[Sample]:
        by_state: Counter[str] = Counter()
        total = threads = 0
        if self._use_procfs:
            for stat in procfs.scan(self._proc_root):
                total += 1
                threads += stat.num_threads
                series = _LINUX_STATES.get(stat.state)
                if series:
                    by_state[series] += 1
        else:
            for proc in psutil.process_iter(["status", "num_threads"]):
                total += 1
                # None when access is denied (other users' processes on macOS and Windows).
                threads += proc.info["num_threads"] or 0
                series = _PSUTIL_STATES.get(proc.info["status"])
                if series:
                    by_state[series] += 1
        samples = [Sample("procs.total", float(total)), Sample("procs.threads", float(threads))]
        samples += [Sample(series, float(by_state[series])) for series in _BY_STATE]
        return samples
