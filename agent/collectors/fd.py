"""System-wide open file handles against the kernel limit (Linux)."""

from __future__ import annotations

from typing import ClassVar

from agent.collectors import procfs
from agent.collectors.options import OptionSpec
from agent.model import Sample


class FdCollector:
    """``fd.open``, ``fd.max`` and ``fd.used_percent`` from ``/proc/sys/fs/file-nr``.

    Nothing where that file does not exist (other platforms have no single system-wide figure).
    """

    name = "fd"
    default_interval = 60.0
    options: ClassVar[OptionSpec] = {}

    def __init__(self, *, proc_root: str | None = None) -> None:
        self._path = f"{proc_root or procfs.default_root()}/sys/fs/file-nr"

    def collect(self) -> list[Sample]:
        try:
            with open(self._path, "rb") as f:
                allocated, unused, maximum = (int(x) for x in f.read().split()[:3])
        except FileNotFoundError:
            return []
        return fd_samples(allocated, unused, maximum)


def fd_samples(allocated: int, unused: int, maximum: int) -> list[Sample]:
    """``fd.*`` from ``/proc/sys/fs/file-nr``'s three numbers (also the SSH poller's)."""
    # "unused" is always 0 since Linux 2.6 but older kernels kept freed handles allocated.
    used = allocated - unused
    samples = [Sample("fd.open", float(used)), Sample("fd.max", float(maximum))]
    if maximum > 0:
        samples.append(Sample("fd.used_percent", used / maximum * 100.0))
    return samples
