"""Small JSON state files (tailer positions, journal cursor) written atomically.

A crash at any moment leaves either the previous or the new content on disk, never a torn file:
the new content goes to a temporary file in the same directory, is fsynced, renamed over the old
one, and the directory is fsynced so the rename itself survives a power loss.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def read_state(path: Path) -> dict[str, Any] | None:
    """The stored object, or ``None`` when there is no usable state (missing or corrupt file).

    A corrupt file is moved aside (``<name>.corrupt``) so the next write does not hide the evidence.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
    except ValueError as exc:
        aside = path.with_name(path.name + ".corrupt")
        log.error("state_corrupt path=%s error=%r moved_to=%s; starting without saved state", path, exc, aside)
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        return None
    return data


def write_state(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new private file next to ``path`` (what tempfile.mkstemp does, without importing tempfile,
    shutil and the compression modules into the agent for it)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name next to {path}")


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory fds (Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
