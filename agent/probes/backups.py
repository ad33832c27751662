"""``probe.backup_*{path}``: the newest and previous backup file under each configured path.

Per path: ``backup_files`` (how many files match), and, when there are any, the newest file's age
(``backup_newest_age_seconds``) and size (``backup_newest_size_bytes``), and with two or more the
previous file's size (``backup_previous_size_bytes``). "Newest" is by modification time. A missing
directory has no backups: 0 files, which the inspection reports as critical. A directory the agent
may not read gives no samples (unknown), since nothing is known about what it holds.
"""

from __future__ import annotations

import fnmatch
import heapq
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from agent.model import Sample, labels_of
from agent.probes.config import BackupProbeConfig
from agent.probes.transitions import TransitionLog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, order=True)
class BackupFile:
    mtime: float
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class BackupScan:
    files: int
    newest: BackupFile | None
    previous: BackupFile | None


class BackupUnreadable(Exception):
    """The configured path exists but cannot be listed."""


def scan_backups(root: str, glob: str, recursive: bool) -> BackupScan:
    """Count matching regular files and keep the two newest, in one pass and constant memory.

    ``root`` may also be a single file (a dump overwritten in place). Symlinks to files count, with
    their target's time and size; symlinked directories are not entered, so a link loop cannot
    make the walk endless.
    """
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return BackupScan(0, None, None)
    except OSError as exc:
        raise BackupUnreadable(f"cannot access {root}: {exc.strerror or exc}") from None
    if stat.S_ISREG(st.st_mode):
        only = BackupFile(st.st_mtime, root, st.st_size)
        return BackupScan(1, only, None)
    count = 0
    newest_two: list[BackupFile] = []  # a min-heap of at most two
    for found in _matching_files(root, glob, recursive):
        count += 1
        if len(newest_two) < 2:
            heapq.heappush(newest_two, found)
        elif found > newest_two[0]:
            heapq.heapreplace(newest_two, found)
    ordered = sorted(newest_two, reverse=True)
    return BackupScan(count, ordered[0] if ordered else None, ordered[1] if len(ordered) > 1 else None)


def _matching_files(root: str, glob: str, recursive: bool) -> Iterator[BackupFile]:
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except FileNotFoundError:
            continue  # removed while walking (rotation)
        except OSError as exc:
            if directory == root:
                raise BackupUnreadable(f"cannot list {root}: {exc.strerror or exc}") from None
            log.debug("probe backups: skipping %s: %s", directory, exc)
            continue
        for entry in entries:
            try:
                if recursive and entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                    continue
                if not fnmatch.fnmatchcase(entry.name, glob) or not entry.is_file():
                    continue
                st = entry.stat()
            except OSError:
                continue  # removed or a dangling link
            yield BackupFile(st.st_mtime, entry.path, st.st_size)


class BackupProbe:
    """Scans each configured backup path; cheap enough for a 15-minute interval on large trees."""

    name = "probe_backups"
    default_interval = 900.0

    def __init__(self, paths: Sequence[BackupProbeConfig], *, clock: Callable[[], float] = time.time) -> None:
        self._paths = list(paths)
        self._clock = clock
        self._log = TransitionLog(self.name)

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        for cfg in self._paths:
            try:
                scan = scan_backups(cfg.label, cfg.glob, cfg.recursive)
            except BackupUnreadable as exc:
                self._log.down(cfg.label, str(exc))
                continue
            self._log.up(cfg.label)
            labels = labels_of({"path": cfg.label})
            samples.append(Sample("probe.backup_files", float(scan.files), labels))
            if scan.newest is not None:
                # Negative when the file's time is in the future (clock skew): reported as measured.
                age = self._clock() - scan.newest.mtime
                samples.append(Sample("probe.backup_newest_age_seconds", age, labels))
                samples.append(Sample("probe.backup_newest_size_bytes", float(scan.newest.size), labels))
            if scan.previous is not None:
                samples.append(Sample("probe.backup_previous_size_bytes", float(scan.previous.size), labels))
        return samples
