"""The systemd journal, read through ``journalctl -o json --follow`` in a child process.

The child's output is read without blocking on each :meth:`JournalReader.poll`, so no thread is
needed. Every entry carries a cursor; the cursor of the last entry handed over is persisted by
:meth:`JournalReader.commit` and the next start resumes after it: first a catch-up child without
``--follow`` (since systemd 250 following implies "this boot only", which would skip what was
logged before a reboot), then ``--follow --after-cursor`` from the last entry caught up. Without a
saved cursor (first start) the reader asks ``journalctl -n 1`` for the newest entry's cursor and
starts after it, so history is not replayed but nothing written after the start is missed, even if
the agent restarts before any new entry arrived.

Hosts without systemd (or without ``journalctl``) simply have no journal: the reader says so once
in the log and returns nothing.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.logs.model import Clock, LogLine, utc_now
from agent.logs.state import read_state, write_state

log = logging.getLogger(__name__)

SOURCE = "journal"
MAX_READ_PER_POLL = 8 * 1024 * 1024
STDERR_KEEP = 4096
CURSOR_ATTEMPTS = 3  # catch-ups failing in a row before the saved cursor is given up


class JournalReader:
    """Follows the journal (optionally only ``units``) from the persisted cursor."""

    def __init__(
        self,
        *,
        state_path: Path | None,
        units: Sequence[str] = (),
        directory: Path | None = None,
        journalctl: str = "journalctl",
        max_line_bytes: int = 16 * 1024,
        restart_backoff_s: float = 10.0,
        require_systemd: bool = True,
        clock: Clock = utc_now,
    ) -> None:
        self.units = tuple(units)
        self.directory = directory
        self.max_line_bytes = max_line_bytes
        self.restart_backoff_s = restart_backoff_s
        self._journalctl = journalctl
        self._require_systemd = require_systemd and directory is None
        self._clock = clock
        self._state_path = state_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = bytearray()
        self._stderr = bytearray()
        self._retry_at: datetime | None = None
        self._available: bool | None = None
        self._delivered: str | None = None  # cursor of the last entry returned by poll()
        self._committed: str | None = None
        # Whether the starting point was ever fixed: a journal that was empty back then has no
        # cursor, and everything in it now is new.
        self._initialized = False
        self._catching_up = False
        self._catch_up_failures = 0
        self.invalid_utf8_lines = 0
        self.truncated_lines = 0
        if state_path is not None:
            saved = read_state(state_path)
            if saved is not None:
                self._initialized = True
                if isinstance(saved.get("cursor"), str):
                    self._delivered = self._committed = saved["cursor"]

    # ------------------------------------------------------------------ public API

    @property
    def available(self) -> bool:
        """Whether this host has a journal to read (decided, and logged once, on first use)."""
        if self._available is None:
            self._available = self._check_available()
        return self._available

    def poll(self) -> list[LogLine]:
        """Entries that arrived since the last call."""
        if not self.available:
            return []
        now = self._clock()
        if self._proc is None:
            if self._retry_at is not None and now < self._retry_at:
                return []
            self._start(now)
            if self._proc is None:
                return []
        out: list[LogLine] = []
        # Only the end of its output ends a child: an exited child may still have buffered entries.
        if self._read_available(now, out):
            self._child_ended(now)
        return out

    def commit(self) -> None:
        """Persist the cursor of everything returned by ``poll`` so far."""
        if self._state_path is None or self._delivered == self._committed:
            return
        write_state(self._state_path, {"cursor": self._delivered})
        self._committed = self._delivered

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ child process

    def _check_available(self) -> bool:
        if _find_program(self._journalctl) is None:
            log.warning(
                "journal_unavailable reason=%r: journal collection is off on this host "
                "(set logs.journal.enabled: false to silence this)",
                f"{self._journalctl} not found on PATH",
            )
            return False
        if self._require_systemd and not Path("/run/systemd/system").is_dir():
            log.warning(
                "journal_unavailable reason=%r: journal collection is off on this host "
                "(set logs.journal.enabled: false to silence this, or logs.journal.directory to read "
                "a journal directory)",
                "systemd is not running (no /run/systemd/system)",
            )
            return False
        return True

    def _base_args(self) -> list[str]:
        args = [self._journalctl, "--output=json", "--all", "--no-pager"]
        if self.directory is not None:
            args.append(f"--directory={self.directory}")
        for unit in self.units:
            args.append(f"--unit={unit}")
        return args

    def _latest_cursor(self) -> str | None:
        try:
            done = subprocess.run(
                [*self._base_args(), "--lines=1"],
                capture_output=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("journal_cursor_failed error=%r", exc)
            return None
        for raw in reversed(done.stdout.splitlines()):
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            cursor = entry.get("__CURSOR") if isinstance(entry, dict) else None
            if isinstance(cursor, str):
                return cursor
        return None

    def _start(self, now: datetime) -> None:
        if not self._initialized:
            self._delivered = self._latest_cursor()
            self._initialized = True
            if self._state_path is not None:  # nothing before this point will ever be wanted
                write_state(self._state_path, {"cursor": self._delivered})
                self._committed = self._delivered
        if self._delivered is not None:
            # Catch up first without --follow: since systemd 250 following implies "this boot
            # only", which would skip what was logged after the cursor before a reboot.
            self._catching_up = True
            self._spawn([*self._base_args(), f"--after-cursor={self._delivered}"], now)
        else:
            self._follow(now)

    def _follow(self, now: datetime) -> None:
        self._catching_up = False
        args = [*self._base_args(), "--follow"]
        if self._delivered is not None:
            args.append(f"--after-cursor={self._delivered}")
        else:
            args.append("--lines=all")  # an empty journal: everything in it will be new
        self._spawn(args, now)

    def _spawn(self, args: list[str], now: datetime) -> None:
        try:
            self._proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, close_fds=True
            )
        except OSError as exc:
            log.warning("journal_start_failed error=%r retry_in_s=%s", exc, self.restart_backoff_s)
            self._retry_at = now + timedelta(seconds=self.restart_backoff_s)
            return
        assert self._proc.stdout is not None and self._proc.stderr is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        os.set_blocking(self._proc.stderr.fileno(), False)
        self._buffer.clear()
        self._stderr.clear()
        log.info(
            "journal_started pid=%d mode=%s after_cursor=%s units=%s",
            self._proc.pid,
            "catch_up" if self._catching_up else "follow",
            bool(self._delivered),
            self.units,
        )

    def _read_available(self, now: datetime, out: list[LogLine]) -> bool:
        """Parse what the child wrote so far; returns True at end of its output."""
        assert self._proc is not None and self._proc.stdout is not None and self._proc.stderr is not None
        eof = False
        budget = MAX_READ_PER_POLL
        fd = self._proc.stdout.fileno()
        while budget > 0:
            try:
                chunk = os.read(fd, min(1 << 20, budget))
            except BlockingIOError:
                break
            if not chunk:
                eof = True
                break
            budget -= len(chunk)
            self._buffer += chunk
        try:
            err = os.read(self._proc.stderr.fileno(), 65536)
            self._stderr += err
            del self._stderr[:-STDERR_KEEP]
        except BlockingIOError:
            pass
        nl = self._buffer.rfind(b"\n")
        if nl >= 0:
            complete = bytes(self._buffer[:nl])
            del self._buffer[: nl + 1]
            for raw in complete.split(b"\n"):
                line = self._entry(raw, now)
                if line is not None:
                    out.append(line)
        return eof

    def _child_ended(self, now: datetime) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        code = proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        self._buffer.clear()  # an unterminated last line of a dead child is not an entry
        stderr = bytes(self._stderr).decode("utf-8", "replace").strip()[-500:]
        if self._catching_up and code == 0:
            self._catch_up_failures = 0
            self._follow(now)
            return
        if self._catching_up:
            self._catch_up_failures += 1
            if self._catch_up_failures >= CURSOR_ATTEMPTS:
                log.error(
                    "journal_cursor_unusable cursor=%r stderr=%r: starting from the newest entry instead; "
                    "entries since the cursor may be missing",
                    self._delivered,
                    stderr,
                )
                self._initialized = False
                self._catch_up_failures = 0
        self._retry_at = now + timedelta(seconds=self.restart_backoff_s)
        log.warning("journal_exited code=%s stderr=%r retry_in_s=%s", code, stderr, self.restart_backoff_s)

    # ------------------------------------------------------------------ entries

    def _entry(self, raw: bytes, now: datetime) -> LogLine | None:
        try:
            entry = json.loads(raw)
        except ValueError:
            log.warning("journal_bad_json bytes=%d", len(raw))
            return None
        if not isinstance(entry, dict):
            return None
        cursor = entry.get("__CURSOR")
        if isinstance(cursor, str):
            self._delivered = cursor
        message, invalid = _text(entry.get("MESSAGE"))
        if message is None:  # entries without a message (binary blobs too large to show)
            return None
        truncated = False
        if len(message) * 4 > self.max_line_bytes:  # cheap check first: a char is at most 4 bytes
            encoded = message.encode("utf-8", "replace")
            if len(encoded) > self.max_line_bytes:
                message = encoded[: self.max_line_bytes].decode("utf-8", "ignore")
                truncated = True
                self.truncated_lines += 1
        if invalid:
            self.invalid_utf8_lines += 1
        ident = _field(entry, "SYSLOG_IDENTIFIER") or _field(entry, "_COMM") or "unknown"
        pid = _field(entry, "SYSLOG_PID") or _field(entry, "_PID")
        # Shaped like a syslog line so the same rules apply to files and the journal.
        text = f"{ident}[{pid}]: {message}" if pid else f"{ident}: {message}"
        fields: dict[str, str] = {"identifier": ident}
        unit = _field(entry, "UNIT") or _field(entry, "USER_UNIT") or _field(entry, "_SYSTEMD_UNIT")
        if unit:
            fields["unit"] = unit
        priority = _field(entry, "PRIORITY")
        if priority:
            fields["priority"] = priority
        return LogLine(SOURCE, text, now, _timestamp(entry), fields, truncated, invalid)


def _field(entry: dict[str, Any], name: str) -> str | None:
    value, _ = _text(entry.get(name))
    return value


def _text(value: Any) -> tuple[str | None, bool]:
    """journalctl writes a field as a string, or as a list of byte values when it is not valid
    UTF-8 (or contains control characters), or as a list of those when the field repeats."""
    if isinstance(value, str):
        return value, False
    if isinstance(value, list) and value and all(isinstance(b, int) for b in value):
        raw = bytes(b & 0xFF for b in value)
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            return raw.decode("utf-8", errors="replace"), True
    if isinstance(value, list) and value:
        return _text(value[0])
    return None, False


def _timestamp(entry: dict[str, Any]) -> datetime | None:
    raw = entry.get("__REALTIME_TIMESTAMP")
    if not isinstance(raw, str | int):
        return None
    try:
        return datetime.fromtimestamp(int(raw) / 1_000_000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _find_program(name: str) -> str | None:
    """Where ``name`` would be run from: ``shutil.which`` for POSIX, which the agent does not import
    (shutil brings the bz2 and lzma modules and libraries along)."""
    if os.sep in name:
        candidates = [name]
    else:
        candidates = [os.path.join(d or ".", name) for d in os.environ.get("PATH", os.defpath).split(os.pathsep)]
    for path in candidates:
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None
