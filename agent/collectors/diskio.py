"""Throughput, operations and busy time of whole disks."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import ClassVar

import psutil

from agent.collectors.counters import CounterDeltas
from agent.collectors.options import OptionSpec
from agent.model import Sample, labels_of

# Loop devices mirror files on other disks, RAM disks (ram, zram swap) are memory, floppies are
# noise: none of them says anything about storage health.
_VIRTUAL = re.compile(r"^(loop|ram|zram|fd)\d+$")
_RATES = (
    "diskio.read_bytes_per_s",
    "diskio.write_bytes_per_s",
    "diskio.read_ops_per_s",
    "diskio.write_ops_per_s",
)


class DiskIoCollector:
    """``diskio.*`` per whole disk (label ``device``); nothing on the first call.

    On Linux a whole disk is a name under ``/sys/block`` (partitions such as ``sda1`` or
    ``nvme0n1p1`` live below their disk there); elsewhere psutil reports whole disks only.
    """

    name = "diskio"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {}

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sys_block: str = "/sys/block") -> None:
        self._deltas: CounterDeltas[str] = CounterDeltas(clock)
        self._sys_block = sys_block if psutil.LINUX else None
        self._whole: dict[str, bool] = {}

    def _is_whole_disk(self, device: str) -> bool:
        known = self._whole.get(device)
        if known is None:
            known = not _VIRTUAL.match(device) and (
                self._sys_block is None or os.path.exists(os.path.join(self._sys_block, device.replace("/", "!")))
            )
            self._whole[device] = known
        return known

    def collect(self) -> list[Sample]:
        counters = psutil.disk_io_counters(perdisk=True, nowrap=True) or {}
        # Forget devices that went away (hot-unplugged, iSCSI sessions) so the cache stays bounded.
        self._whole = {device: known for device, known in self._whole.items() if device in counters}
        readings: dict[str, tuple[float, ...]] = {}
        with_busy: set[str] = set()
        for device, io in counters.items():
            if not self._is_whole_disk(device):
                continue
            values: tuple[float, ...] = (io.read_bytes, io.write_bytes, io.read_count, io.write_count)
            busy_ms = getattr(io, "busy_time", None)  # absent on macOS, Windows
            if busy_ms is not None:
                values += (busy_ms,)
                with_busy.add(device)
            readings[device] = values
        deltas = self._deltas.advance(readings)
        if deltas is None:
            return []
        samples: list[Sample] = []
        for device, delta in deltas.by_key.items():
            labels = labels_of({"device": device})
            samples += [
                Sample(series, value / deltas.elapsed, labels) for series, value in zip(_RATES, delta, strict=False)
            ]
            if device in with_busy:
                busy = delta[4] / (deltas.elapsed * 1000.0) * 100.0
                samples.append(Sample("diskio.busy_percent", min(100.0, busy), labels))
        return samples
