from __future__ import annotations

import collections
import os
from pathlib import Path

import psutil
import pytest

from agent.collectors.disk import PSEUDO_FSTYPES, DiskCollector, real_mounts
from tests.agent_collectors.helpers import assert_catalogued, by_key

# Same fields as psutil's own named tuples.
sdiskpart = collections.namedtuple("sdiskpart", "device mountpoint fstype opts")
sdiskusage = collections.namedtuple("sdiskusage", "total used free percent")

PSEUDO_MOUNTS = ("/proc", "/sys", "/dev", "/dev/shm", "/dev/pts", "/run", "/sys/fs/cgroup")


def _mounts(samples: list) -> dict[str, dict[str, str]]:
    return {dict(s.labels)["mount"]: dict(s.labels) for s in samples}


def _root_is_real() -> bool:
    root = next((p for p in psutil.disk_partitions(all=True) if p.mountpoint == "/"), None)
    return root is not None and root.fstype not in PSEUDO_FSTYPES


def test_real_mounts_exclude_pseudo_filesystems() -> None:
    samples = DiskCollector().collect()
    assert_catalogued(samples)
    mounts = _mounts(samples)
    for labels in mounts.values():
        assert labels["fstype"] not in PSEUDO_FSTYPES
        assert not labels["fstype"].startswith("cgroup")
        assert not labels["device"].startswith("/dev/")
    for pseudo in PSEUDO_MOUNTS:
        assert pseudo not in mounts
    every = psutil.disk_partitions(all=True)
    for part in every:
        if part.fstype in {"tmpfs", "proc", "sysfs", "devtmpfs", "overlay", "squashfs", "cgroup", "cgroup2"}:
            assert part.mountpoint not in mounts, part


@pytest.mark.ci_may_skip
@pytest.mark.skipif(not _root_is_real(), reason="/ is not a real filesystem here (container overlay)")
def test_real_root_matches_statvfs() -> None:
    values = by_key(DiskCollector().collect())
    (labels,) = [labels for name, labels in values if name == "disk.total_bytes" and dict(labels)["mount"] == "/"]
    st = os.statvfs("/")
    assert values[("disk.total_bytes", labels)] == st.f_blocks * st.f_frsize
    used = values[("disk.used_bytes", labels)]
    free = values[("disk.free_bytes", labels)]
    # Space moves between the two statvfs calls on a busy machine; allow 1% of the disk.
    slack = 0.01 * st.f_blocks * st.f_frsize
    assert abs(used - (st.f_blocks - st.f_bfree) * st.f_frsize) <= slack
    assert used + free <= values[("disk.total_bytes", labels)]
    assert values[("disk.used_percent", labels)] == pytest.approx(used / (used + free) * 100)
    if st.f_files:
        total = values[("disk.inodes_total", labels)]
        assert total == st.f_files
        assert values[("disk.inodes_used", labels)] + values[("disk.inodes_free", labels)] == total
        assert 0 < values[("disk.inodes_used_percent", labels)] < 100


def _parts(tmp_path: Path) -> list[sdiskpart]:
    for name in ("data", "data/bind", "shm", "snap", "docker", "docker/overlay", "iso", "cg"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    t = str(tmp_path)
    return [
        sdiskpart("/dev/sdz1", f"{t}/data", "ext4", "rw"),
        sdiskpart("/dev/sdz1", f"{t}/data/bind", "ext4", "rw"),  # bind mount of the same device
        sdiskpart("tmpfs", f"{t}/shm", "tmpfs", "rw"),
        sdiskpart("/dev/loop3", f"{t}/snap", "squashfs", "ro"),
        sdiskpart("/dev/sdy1", f"{t}/docker", "xfs", "rw"),
        sdiskpart("overlay", f"{t}/docker/overlay", "overlay", "rw"),
        sdiskpart("/dev/sr0", f"{t}/iso", "iso9660", "ro"),
        sdiskpart("cgroup2", f"{t}/cg", "cgroup2", "rw"),
        sdiskpart("/dev/mapper/vg-root", t, "ext4", "rw"),
    ]


def test_filter_and_bind_mount_dedupe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: _parts(tmp_path))
    t = str(tmp_path)
    found = [(m.device, m.mount, m.fstype) for m in real_mounts()]
    assert found == [
        ("/dev/mapper/vg-root", t, "ext4"),
        ("/dev/sdz1", f"{t}/data", "ext4"),
        ("/dev/sdy1", f"{t}/docker", "xfs"),
    ]
    mounts = _mounts(DiskCollector().collect())
    assert set(mounts) == {t, f"{t}/data", f"{t}/docker"}
    assert mounts[t]["device"] == "mapper/vg-root"
    assert mounts[f"{t}/data"] == {"mount": f"{t}/data", "device": "sdz1", "fstype": "ext4"}


def test_ignore_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: _parts(tmp_path))
    t = str(tmp_path)
    collector = DiskCollector(ignore_fstypes=("XFS",), ignore_mounts=(f"{t}/data/",))
    assert set(_mounts(collector.collect())) == {t}
    # A prefix matches whole path components only: /data does not hide /database.
    collector = DiskCollector(ignore_mounts=(f"{t}/dat",))
    assert f"{t}/data" in _mounts(collector.collect())


def test_filesystem_without_inodes_has_no_inode_series(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        psutil, "disk_partitions", lambda all=False: [sdiskpart("/dev/sdx", str(tmp_path), "btrfs", "rw")]
    )
    # bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax
    fake = os.statvfs_result((4096, 4096, 1000, 400, 300, 0, 0, 0, 0, 255))
    monkeypatch.setattr(os, "statvfs", lambda path: fake)
    v = {name: value for (name, _), value in by_key(DiskCollector().collect()).items()}
    assert v == {
        "disk.total_bytes": 4096 * 1000,
        "disk.used_bytes": 4096 * 600,
        "disk.free_bytes": 4096 * 300,
        "disk.used_percent": pytest.approx(600 / 900 * 100),
    }


def test_inode_arithmetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        psutil, "disk_partitions", lambda all=False: [sdiskpart("/dev/sdx", str(tmp_path), "ext4", "rw")]
    )
    monkeypatch.setattr(
        os, "statvfs", lambda path: os.statvfs_result((4096, 4096, 1000, 400, 300, 200, 150, 150, 0, 255))
    )
    v = {name: value for (name, _), value in by_key(DiskCollector().collect()).items()}
    assert v["disk.inodes_total"] == 200
    assert v["disk.inodes_used"] == 50
    assert v["disk.inodes_free"] == 150
    assert v["disk.inodes_used_percent"] == 25.0


def test_unreadable_mount_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    monkeypatch.setattr(
        psutil,
        "disk_partitions",
        lambda all=False: [
            sdiskpart("/dev/sdx", str(gone), "ext4", "rw"),
            sdiskpart("/dev/sdw", str(tmp_path), "ext4", "rw"),
        ],
    )
    assert set(_mounts(DiskCollector().collect())) == {str(tmp_path)}


def test_platform_without_statvfs_uses_psutil_and_has_no_inodes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows: no os.statvfs; drive letters, and an empty CD-ROM drive without fstype.
    monkeypatch.delattr(os, "statvfs")
    monkeypatch.setattr(
        psutil,
        "disk_partitions",
        lambda all=False: [sdiskpart("C:\\", "C:\\", "NTFS", "rw,fixed"), sdiskpart("D:\\", "D:\\", "", "cdrom")],
    )
    monkeypatch.setattr(psutil, "disk_usage", lambda path: sdiskusage(1000, 250, 750, 25.0))
    v = by_key(DiskCollector().collect())
    labels = (("device", "C:\\"), ("fstype", "NTFS"), ("mount", "C:\\"))
    assert v == {
        ("disk.total_bytes", labels): 1000,
        ("disk.used_bytes", labels): 250,
        ("disk.free_bytes", labels): 750,
        ("disk.used_percent", labels): 25.0,
    }
