"""Space and inodes of real, locally mounted filesystems."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import ClassVar

import psutil

from agent.collectors.options import OptionSpec, string_list
from agent.model import Labels, Sample, labels_of

log = logging.getLogger(__name__)

# Filesystems that hold no data of their own, or whose fullness is meaningless (a mounted ISO image
# or snap is always 100% full). psutil's all=False already drops most kernel pseudo filesystems and
# all network filesystems (they are "nodev" in /proc/filesystems, and a hung NFS server would
# block statvfs); this list catches what slips through on Linux, the BSDs and macOS.
PSEUDO_FSTYPES: frozenset[str] = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs",
        "devpts", "devtmpfs", "efivarfs", "fdescfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal",
        "fuse.snapfuse", "fusectl", "hugetlbfs", "iso9660", "linprocfs", "linsysfs", "mqueue",
        "nsfs", "nullfs", "overlay", "proc", "procfs", "pstore", "ramfs", "rpc_pipefs", "securityfs",
        "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs", "udf", "aufs",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mount: str
    fstype: str


def device_label(device: str) -> str:
    """``/dev/sda1`` -> ``sda1``, ``/dev/mapper/vg-root`` -> ``mapper/vg-root``; ZFS ``pool/fs`` as is."""
    return device.removeprefix("/dev/")


def real_mounts(ignore_fstypes: frozenset[str] = frozenset(), ignore_mounts: tuple[str, ...] = ()) -> list[Mount]:
    """Mounted local filesystems that hold data, one entry per device, sorted by mount point.

    A device mounted several times (bind mounts, btrfs subvolumes) is reported once, at its
    shortest mount point, since every mount of it shows the same space.
    """
    skip = PSEUDO_FSTYPES | ignore_fstypes
    by_device: dict[str, Mount] = {}
    for part in psutil.disk_partitions(all=False):
        fstype = part.fstype.lower()
        # Windows reports an empty drive (CD-ROM without media) with no fstype.
        if not fstype or fstype in skip or fstype.startswith("cgroup") or "cdrom" in part.opts:
            continue
        if any(_under(part.mountpoint, prefix) for prefix in ignore_mounts):
            continue
        candidate = Mount(part.device, part.mountpoint, part.fstype)
        kept = by_device.get(part.device)
        if kept is None or (len(candidate.mount), candidate.mount) < (len(kept.mount), kept.mount):
            by_device[part.device] = candidate
    return sorted(by_device.values(), key=lambda m: m.mount)


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/") or "/"
    return path == prefix or path.startswith(prefix if prefix == "/" else prefix + "/")


@dataclass(frozen=True, slots=True)
class Usage:
    total: int
    used: int
    free: int
    used_percent: float
    inodes_total: int | None = None
    inodes_free: int | None = None


def usage(mount: str) -> Usage:
    """Space as ``df`` shows it (free = available to unprivileged users) plus inodes where known."""
    if not hasattr(os, "statvfs"):
        du = psutil.disk_usage(mount)
        return Usage(du.total, du.used, du.free, du.percent)
    st = os.statvfs(mount)
    total = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    free = st.f_bavail * st.f_frsize
    percent = used_percent(used, free)
    # Filesystems without a fixed inode table (btrfs, vfat) report zero inodes.
    if st.f_files > 0:
        return Usage(total, used, free, percent, st.f_files, st.f_ffree)
    return Usage(total, used, free, percent)


def used_percent(used: int, free: int) -> float:
    """Like df: blocks reserved for root count neither as used nor as available."""
    return used / (used + free) * 100.0 if used + free > 0 else 0.0


def disk_samples(u: Usage, labels: Labels) -> list[Sample]:
    """``disk.*`` of one filesystem; the collector's SSH poller builds an agentless host's with it too."""
    samples = [
        Sample("disk.total_bytes", float(u.total), labels),
        Sample("disk.used_bytes", float(u.used), labels),
        Sample("disk.free_bytes", float(u.free), labels),
        Sample("disk.used_percent", u.used_percent, labels),
    ]
    if u.inodes_total is not None and u.inodes_free is not None and u.inodes_total > 0:
        inodes_used = u.inodes_total - u.inodes_free
        samples += [
            Sample("disk.inodes_total", float(u.inodes_total), labels),
            Sample("disk.inodes_used", float(inodes_used), labels),
            Sample("disk.inodes_free", float(u.inodes_free), labels),
            Sample("disk.inodes_used_percent", inodes_used / u.inodes_total * 100.0, labels),
        ]
    return samples


class DiskCollector:
    """``disk.*`` per real mount, labelled ``mount``, ``device``, ``fstype``.

    Options: ``ignore_fstypes`` (extra filesystem types to skip), ``ignore_mounts`` (mount points
    to skip, with everything below them, e.g. ``/var/lib/docker``).
    """

    name = "disk"
    default_interval = 10.0
    options: ClassVar[OptionSpec] = {"ignore_fstypes": string_list, "ignore_mounts": string_list}

    def __init__(self, *, ignore_fstypes: tuple[str, ...] = (), ignore_mounts: tuple[str, ...] = ()) -> None:
        self._ignore_fstypes = frozenset(t.lower() for t in ignore_fstypes)
        self._ignore_mounts = tuple(ignore_mounts)

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        for mnt in real_mounts(self._ignore_fstypes, self._ignore_mounts):
            try:
                u = usage(mnt.mount)
            except OSError as exc:
                # A mount can vanish or deny access between listing and statvfs; skip it this round.
                log.debug("disk: cannot stat %s (%s): %s", mnt.mount, mnt.device, exc)
                continue
            if u.total <= 0:
                continue
            labels = labels_of({"mount": mnt.mount, "device": device_label(mnt.device), "fstype": mnt.fstype})
            samples += disk_samples(u, labels)
        return samples
