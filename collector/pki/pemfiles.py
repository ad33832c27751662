"""Writing keys and certificates to disk without ever exposing a key to other users.

A private key is written to a temporary file created with mode 0600 (never chmod-ed down after the
fact, so there is no window where it is readable), fsynced and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits we want (never adds any)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_private(path: Path, data: bytes) -> None:
    write_file(path, data, 0o600)


def write_public(path: Path, data: bytes) -> None:
    write_file(path, data, 0o644)


def check_private(path: Path) -> str | None:
    """A warning when a private key file is readable by other users, else None."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if mode & 0o027:  # group read is a deliberate choice (a service group); anything more is not
        return f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}"
    return None
