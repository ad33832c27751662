from __future__ import annotations

import collections
import os
from pathlib import Path

import psutil
import pytest

from agent.collectors.diskio import DiskIoCollector
from tests.agent_collectors.helpers import ManualClock, assert_catalogued, by_key

# Same fields as psutil's Linux sdiskio; macOS has no busy_time.
LinuxIo = collections.namedtuple(
    "LinuxIo",
    "read_count write_count read_bytes write_bytes read_time write_time read_merged_count write_merged_count busy_time",
)
MacIo = collections.namedtuple("MacIo", "read_count write_count read_bytes write_bytes read_time write_time")


def _io(reads: int, writes: int, rbytes: int, wbytes: int, busy: int) -> LinuxIo:
    return LinuxIo(reads, writes, rbytes, wbytes, 0, 0, 0, 0, busy)


def _per_device(samples: list) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for (name, labels), value in by_key(samples).items():
        result[dict(labels)["device"]][name] = value
    return dict(result)


@pytest.fixture
def sys_block(tmp_path: Path) -> str:
    for disk in ("sda", "nvme0n1", "cciss!c0d0", "loop0", "zram0"):
        (tmp_path / disk).mkdir()
    return str(tmp_path)


def test_rates_from_counter_deltas(monkeypatch: pytest.MonkeyPatch, clock: ManualClock, sys_block: str) -> None:
    rounds = iter(
        [
            {"sda": _io(100, 200, 1_000_000, 2_000_000, 5_000), "sda1": _io(1, 1, 1, 1, 1)},
            {"sda": _io(150, 400, 6_000_000, 4_000_000, 7_500), "sda1": _io(9, 9, 9, 9, 9)},
        ]
    )
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False, nowrap=True: next(rounds))
    diskio = DiskIoCollector(clock=clock, sys_block=sys_block)
    assert diskio.collect() == []
    clock.advance(10)
    samples = diskio.collect()
    assert_catalogued(samples)
    assert _per_device(samples) == {
        "sda": {
            "diskio.read_bytes_per_s": 500_000.0,
            "diskio.write_bytes_per_s": 200_000.0,
            "diskio.read_ops_per_s": 5.0,
            "diskio.write_ops_per_s": 20.0,
            "diskio.busy_percent": 25.0,
        }
    }


def test_whole_disks_only(monkeypatch: pytest.MonkeyPatch, clock: ManualClock, sys_block: str) -> None:
    devices = ["sda", "sda1", "nvme0n1", "nvme0n1p2", "cciss/c0d0", "cciss/c0d0p1", "loop0", "zram0", "ram1", "dm-0"]
    counters = {name: _io(1, 1, 1, 1, 1) for name in devices}
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False, nowrap=True: counters)
    diskio = DiskIoCollector(clock=clock, sys_block=sys_block)
    diskio.collect()
    clock.advance(1)
    assert set(_per_device(diskio.collect())) == {"sda", "nvme0n1", "cciss/c0d0"}


def test_busy_percent_is_capped_and_resets_skip_a_round(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock, sys_block: str
) -> None:
    rounds = iter(
        [
            {"sda": _io(10, 10, 10, 10, 0)},
            # busy_time accounting can run ahead of the wall clock by a tick on some kernels.
            {"sda": _io(20, 20, 20, 20, 1_010)},
            {"sda": _io(5, 5, 5, 5, 5)},  # device re-attached: counters restarted
            {"sda": _io(15, 5, 5, 5, 505)},
        ]
    )
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False, nowrap=True: next(rounds))
    diskio = DiskIoCollector(clock=clock, sys_block=sys_block)
    diskio.collect()
    clock.advance(1)
    assert _per_device(diskio.collect())["sda"]["diskio.busy_percent"] == 100.0
    clock.advance(1)
    assert diskio.collect() == []
    clock.advance(1)
    assert _per_device(diskio.collect())["sda"] == {
        "diskio.read_bytes_per_s": 0.0,
        "diskio.write_bytes_per_s": 0.0,
        "diskio.read_ops_per_s": 10.0,
        "diskio.write_ops_per_s": 0.0,
        "diskio.busy_percent": 50.0,
    }


def test_platform_without_busy_time(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    rounds = iter([{"disk0": MacIo(1, 1, 100, 100, 0, 0)}, {"disk0": MacIo(2, 3, 300, 500, 0, 0)}])
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False, nowrap=True: next(rounds))
    monkeypatch.setattr(psutil, "LINUX", False)
    diskio = DiskIoCollector(clock=clock)
    diskio.collect()
    clock.advance(2)
    assert _per_device(diskio.collect()) == {
        "disk0": {
            "diskio.read_bytes_per_s": 100.0,
            "diskio.write_bytes_per_s": 200.0,
            "diskio.read_ops_per_s": 0.5,
            "diskio.write_ops_per_s": 1.0,
        }
    }


def test_no_disks_reported(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    # psutil returns None (or {}) where the kernel exposes no disk statistics, e.g. some containers.
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False, nowrap=True: None)
    diskio = DiskIoCollector(clock=clock)
    diskio.collect()
    clock.advance(1)
    assert diskio.collect() == []


def _whole_disk_of(path: Path) -> str | None:
    dev = os.stat(path).st_dev
    sysfs = f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    if not os.path.exists(sysfs):
        return None
    real = os.path.realpath(sysfs)
    name = os.path.basename(os.path.dirname(real)) if os.path.exists(f"{real}/partition") else os.path.basename(real)
    return name.replace("!", "/") if os.path.exists(f"/sys/block/{name}") else None


@pytest.mark.ci_may_skip
@pytest.mark.skipif(not psutil.LINUX, reason="finds the disk under a directory through Linux sysfs")
def test_real_writes_show_up_on_their_disk(tmp_path: Path, clock: ManualClock) -> None:
    disk = _whole_disk_of(tmp_path)
    if disk is None or disk.startswith(("loop", "zram", "ram")):
        pytest.skip(f"{tmp_path} is not on a whole disk with I/O statistics")
    diskio = DiskIoCollector(clock=clock)
    before = psutil.disk_io_counters(perdisk=True)[disk]
    diskio.collect()
    size = 8 * 1024 * 1024
    with open(tmp_path / "blob", "wb") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
    clock.advance(10)
    samples = diskio.collect()
    after = psutil.disk_io_counters(perdisk=True)[disk]
    assert_catalogued(samples)
    v = _per_device(samples)[disk]
    written = v["diskio.write_bytes_per_s"] * 10
    assert size <= written <= after.write_bytes - before.write_bytes
    assert 1 <= v["diskio.write_ops_per_s"] * 10 <= after.write_count - before.write_count
    assert v["diskio.read_bytes_per_s"] * 10 <= after.read_bytes - before.read_bytes
    assert 0 <= v["diskio.busy_percent"] <= 100
