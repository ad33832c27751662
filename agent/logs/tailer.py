"""Following log files matched by globs, across rotation and restarts, by polling.

Per path the tailer reads whole lines from the file generation the path names (device + inode +
fingerprint of the first bytes) and remembers where it is. Positions on disk only move when the
caller calls :meth:`Tailer.commit` after it has handed the lines over (for the agent: written the
events to the spool), so a crash re-reads at most what was not handed over: nothing is skipped,
and nothing handed over is read again.

Rotation:

- **rename + create** (logrotate's default): the path names another inode. The old generation
  is read to its end and kept open ("draining") until it has been quiet for ``rotate_wait_s``,
  because the writer keeps writing to it until it reopens its log; its last unterminated line is
  emitted then. The path's new file is followed from its start right away.
- **copytruncate**: same inode, but shorter than what was read, or its first bytes changed. The
  lines written between the last read and the copy are recovered from the copy (the sibling file
  that starts with the same fingerprint); then the truncated file is read from its start.
- **while the agent was down**: on start, a saved generation that the path no longer names is
  looked up among the files of its directory by inode and fingerprint and drained from the saved
  offset; the path's new file is read from its start.

A file first seen when the tailer starts without saved state is read from its end (unless
``from_beginning``); a file that appears later is new and is read from its start. A file that
shows up under a new name with an inode the tailer already read (``app.log`` renamed to
``app.log.1`` while the glob is ``app.log*``) continues where it was, so it is never read twice.
Rotations are expected to be further apart than two polls: a generation that is created and
rotated away again between two polls is only found when the glob matches its rotated name.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from agent.digest import blake2b
from agent.logs.model import Clock, FilePosition, FileRef, LogLine, utc_now
from agent.logs.state import read_state, write_state

log = logging.getLogger(__name__)

FINGERPRINT_BYTES = 512
DEFAULT_MAX_LINE_BYTES = 16 * 1024
READ_CHUNK = 256 * 1024
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".Z", ".br")
STATE_VERSION = 1
RETIRED_LIMIT = 256  # identities of finished generations kept to recognise them under a new name


def _fingerprint(fd: int, size: int) -> tuple[int, str]:
    length = min(size, FINGERPRINT_BYTES)
    data = os.pread(fd, length, 0) if length else b""
    return len(data), blake2b(data, digest_size=12).hexdigest()


def _matches(fd: int, ref: FileRef) -> bool:
    """Whether the open file still starts with the bytes ``ref`` was fingerprinted from."""
    if ref.fp_len == 0:
        return True
    data = os.pread(fd, ref.fp_len, 0)
    return len(data) == ref.fp_len and blake2b(data, digest_size=12).hexdigest() == ref.fp


@dataclass(slots=True)
class _Follow:
    """The generation being read for one path."""

    path: str
    fd: int
    ref: FileRef
    read_offset: int  # next byte to read
    line_start: int  # start of the line not yet emitted: the position handed out
    partial: bytearray = field(default_factory=bytearray)
    partial_dropped: int = 0  # bytes of the pending line beyond max_line_bytes, already discarded
    seen_size: int = -1
    seen_mtime_ns: int = -1
    last_growth: datetime | None = None

    @property
    def position(self) -> FilePosition:
        return FilePosition(self.ref, self.line_start)


@dataclass(frozen=True, slots=True)
class TailerStats:
    truncated_lines: Mapping[str, int]
    invalid_utf8_lines: Mapping[str, int]
    files: int


class Tailer:
    """Poll-based follower of the files matching ``globs``.

    ``poll()`` returns the complete lines that appeared since the last call. ``commit()`` makes
    the positions of everything returned so far durable (``hold`` keeps chosen paths at an
    earlier position, for lines a caller still holds back). Without ``state_path`` nothing is
    persisted (offline analysis).
    """

    def __init__(
        self,
        globs: Sequence[str],
        *,
        state_path: Path | None = None,
        from_beginning: bool = False,
        exclude: Sequence[str] = (),
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_bytes_per_poll: int = 8 * 1024 * 1024,
        rotate_wait_s: float = 30.0,
        clock: Clock = utc_now,
    ) -> None:
        if max_line_bytes < 64:
            raise ValueError(f"max_line_bytes must be at least 64, got {max_line_bytes}")
        self.globs = tuple(globs)
        self.exclude = tuple(exclude)
        self.from_beginning = from_beginning
        self.max_line_bytes = max_line_bytes
        self.max_bytes_per_poll = max_bytes_per_poll
        self.rotate_wait_s = rotate_wait_s
        self._clock = clock
        self._state_path = state_path
        self._follows: dict[str, _Follow] = {}  # path -> the generation the path names
        self._draining: dict[str, list[_Follow]] = {}  # path -> rotated generations still watched
        self._retired: dict[tuple[int, int], FilePosition] = {}
        self._saved: dict[str, FilePosition] = {}
        self._saved_mtime: dict[str, int] = {}  # of files that were empty: their only trace of a truncation
        self._saved_draining: dict[str, list[FilePosition]] = {}
        self._warned: set[str] = set()
        self._first_scan = True
        self._last_committed: dict[str, Any] | None = None
        self.truncated_lines: dict[str, int] = {}
        self.invalid_utf8_lines: dict[str, int] = {}
        if state_path is not None:
            self._load(state_path)

    # ------------------------------------------------------------------ public API

    def poll(self, *, flush_partial: bool = False) -> list[LogLine]:
        """New complete lines from every followed file; per path, rotated generations first.

        ``flush_partial`` treats an unterminated last line at the end of a file as complete
        (offline analysis of a finished file); the agent never sets it.
        """
        now = self._clock()
        out: list[LogLine] = []
        self._discover(now, out)
        for path in sorted(self._follows.keys() | self._draining.keys()):
            try:
                self._poll_path(path, now, out, flush_partial)
            except OSError as exc:
                self._warn(path, "read_failed", exc)
        self._first_scan = False
        return out

    def at_end(self) -> bool:
        """Whether every followed file has been read to its current end."""
        for follow in self._all_follows():
            try:
                if os.fstat(follow.fd).st_size > follow.read_offset:
                    return False
            except OSError:
                continue
        return True

    def positions(self) -> dict[str, FilePosition]:
        """Where each path's current generation stands after the lines returned so far."""
        return {path: f.position for path, f in self._follows.items()}

    def commit(self, hold: Mapping[str, FilePosition] | None = None) -> None:
        """Persist positions: everything returned by ``poll`` so far counts as handed over,
        except for paths in ``hold``, which are saved at the given (earlier) position of the
        generation it names."""
        if self._state_path is None:
            return
        hold = hold or {}
        files: dict[str, Any] = {}
        draining: dict[str, list[Any]] = {}
        for path in self._follows.keys() | self._draining.keys() | hold.keys():
            held = hold.get(path)
            current = self._follows.get(path)
            if current is not None:
                pos = current.position
                if held is not None and _same_file(held.file, current.ref):
                    pos, held = held, None
                files[path] = _encode(pos)
                if pos.file.fp_len == 0 and current.seen_mtime_ns >= 0:
                    files[path]["mtime_ns"] = current.seen_mtime_ns
            olds = []
            for old in self._draining.get(path, []):
                pos = old.position
                if held is not None and _same_file(held.file, old.ref):
                    pos, held = held, None
                olds.append(_encode(pos))
            if held is not None:  # a generation already left behind: read it again from there
                olds.append(_encode(held))
            if olds:
                draining[path] = olds
        retired = [_encode(pos) for pos in self._retired.values()]
        data = {"version": STATE_VERSION, "files": files, "draining": draining, "retired": retired}
        if data == self._last_committed:
            return
        write_state(self._state_path, data)
        self._last_committed = data

    def stats(self) -> TailerStats:
        return TailerStats(dict(self.truncated_lines), dict(self.invalid_utf8_lines), len(self._follows))

    def close(self) -> None:
        for follow in self._all_follows():
            _close(follow.fd)
        self._follows.clear()
        self._draining.clear()

    def __enter__(self) -> Tailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _all_follows(self) -> list[_Follow]:
        return [*self._follows.values(), *(f for olds in self._draining.values() for f in olds)]

    # ------------------------------------------------------------------ state

    def _load(self, state_path: Path) -> None:
        data = read_state(state_path)
        if not data:
            return
        if data.get("version") != STATE_VERSION:
            log.warning("tail_state_version_unknown path=%s version=%r; ignoring it", state_path, data.get("version"))
            return
        # The first poll must honour the saved positions, not treat the files as first seen.
        for path, raw in (data.get("files") or {}).items():
            pos = _decode(raw)
            if pos is not None:
                self._saved[path] = pos
                if isinstance(raw.get("mtime_ns"), int):
                    self._saved_mtime[path] = raw["mtime_ns"]
        for path, raws in (data.get("draining") or {}).items():
            positions = [p for p in map(_decode, raws or []) if p is not None]
            if positions:
                self._saved_draining[path] = positions
        for raw in data.get("retired") or []:
            pos = _decode(raw)
            if pos is not None:
                self._retired[(pos.file.dev, pos.file.ino)] = pos
        self._last_committed = data

    # ------------------------------------------------------------------ discovery

    def _wanted(self, path: str) -> bool:
        if path.endswith(COMPRESSED_SUFFIXES):
            return False
        return not any(fnmatchcase(path, pat) for pat in self.exclude)

    def _matched_paths(self) -> set[str]:
        paths: set[str] = set()
        for pattern in self.globs:
            for path in glob.glob(pattern):
                if self._wanted(path):
                    paths.add(path)
        return paths

    def _discover(self, now: datetime, out: list[LogLine]) -> None:
        matched = self._matched_paths()
        if self._first_scan and (self._saved or self._saved_draining):
            for path in sorted(self._saved.keys() | self._saved_draining.keys()):
                # A saved path still counts while it matches the globs, even when it is missing
                # right now (rotated while the agent was down, new file not created yet).
                if path in matched or any(fnmatchcase(path, g) for g in self.globs):
                    self._resume(path, self._saved.get(path), self._saved_draining.get(path, []), now, out)
            self._saved.clear()
            self._saved_mtime.clear()
            self._saved_draining.clear()
        for path in sorted(matched - self._follows.keys()):
            if path in self._draining:
                continue  # rotated away and not back yet: _poll_path opens the new file
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or self._open_elsewhere(st):
                continue
            start = "end" if self._first_scan and not self.from_beginning else "start"
            self._open(path, st, now, start)

    def _open_elsewhere(self, st: os.stat_result) -> bool:
        """The same file is already followed under another name (hard link, or a rotated
        generation still draining): following it twice would duplicate its lines."""
        return any(f.ref.dev == st.st_dev and f.ref.ino == st.st_ino for f in self._all_follows())

    def _open(self, path: str, st: os.stat_result, now: datetime, start: str) -> _Follow | None:
        """Follow ``path`` from its ``start`` ("start", "end") or, for a generation already read
        under another name, from where that reading stopped."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            self._warn(path, "open_failed", exc)
            return None
        fst = os.fstat(fd)
        fp_len, fp = _fingerprint(fd, fst.st_size)
        ref = FileRef(fst.st_dev, fst.st_ino, fp_len, fp)
        offset = 0
        retired = self._retired.get((fst.st_dev, fst.st_ino))
        if retired is not None and _matches(fd, retired.file):
            offset = min(retired.offset, fst.st_size)
            del self._retired[(fst.st_dev, fst.st_ino)]
        elif start == "end":
            offset = _last_line_end(fd, fst.st_size)
        follow = _Follow(path, fd, ref, offset, offset, last_growth=now)
        self._follows[path] = follow
        self._warned.discard(path)
        log.info("tail_open path=%s inode=%d offset=%d", path, fst.st_ino, offset)
        return follow

    def _resume(
        self,
        path: str,
        saved: FilePosition | None,
        saved_old: list[FilePosition],
        now: datetime,
        out: list[LogLine],
    ) -> None:
        for pos in saved_old:
            self._resume_generation(path, pos, now)
        try:
            st: os.stat_result | None = os.stat(path)
        except OSError:
            st = None
        if saved is not None and st is not None and (st.st_dev, st.st_ino) == (saved.file.dev, saved.file.ino):
            follow = self._open(path, st, now, "start")
            if follow is None:
                return
            unchanged = _matches(follow.fd, saved.file) and os.fstat(follow.fd).st_size >= saved.offset
            if unchanged and saved.file.fp_len == 0 and path in self._saved_mtime:
                # empty when last seen: only a newer copy tells that it was truncated since
                copy = self._copy_of(follow, saved, newer_than_ns=self._saved_mtime[path])
                if copy is not None:
                    self._recover_copy(path, saved, copy, now, out)
                    return
            if unchanged:
                follow.read_offset = follow.line_start = saved.offset
                return
            # Truncated (copytruncate) or rewritten while the agent was down.
            self._recover_copy(path, saved, self._copy_of(follow, saved), now, out)
            return
        if saved is not None:
            self._resume_generation(path, saved, now)  # rotated while the agent was down
        if st is not None and stat.S_ISREG(st.st_mode) and not self._open_elsewhere(st):
            self._open(path, st, now, "start")

    def _resume_generation(self, path: str, pos: FilePosition, now: datetime) -> None:
        """Watch a rotated generation again from ``pos``, found by inode among ``path``'s
        neighbours."""
        old = _find_generation(path, pos.file)
        if old is None:
            log.warning(
                "tail_generation_lost path=%s inode=%d offset=%d: the file read before the restart is "
                "gone (rotated and compressed, or deleted); lines written to it after that offset are lost",
                path,
                pos.file.ino,
                pos.offset,
            )
            return
        try:
            fd = os.open(old, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            self._warn(path, "open_failed", exc)
            return
        follow = _Follow(path, fd, pos.file, pos.offset, pos.offset, last_growth=now)
        self._draining.setdefault(path, []).append(follow)
        log.info("tail_resume_rotated path=%s generation=%s offset=%d", path, old, pos.offset)

    # ------------------------------------------------------------------ reading

    def _poll_path(self, path: str, now: datetime, out: list[LogLine], flush_partial: bool) -> None:
        for old in list(self._draining.get(path, [])):
            self._poll_draining(path, old, now, out)
        follow = self._follows.get(path)
        try:
            st: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            st = None
        if follow is None:
            # The path was rotated away and is back (or not yet): a new generation, from its start.
            if st is not None and stat.S_ISREG(st.st_mode) and not self._open_elsewhere(st):
                follow = self._open(path, st, now, "start")
            if follow is None:
                return
        elif st is None or (st.st_dev, st.st_ino) != (follow.ref.dev, follow.ref.ino):
            self._rotated(follow, now, out)
            self._poll_path(path, now, out, flush_partial)
            return
        fst = os.fstat(follow.fd)
        if fst.st_size != follow.seen_size or fst.st_mtime_ns != follow.seen_mtime_ns:
            if follow.ref.fp_len:
                if fst.st_size < follow.read_offset or not _matches(follow.fd, follow.ref):
                    self._truncated(follow, now, out, self._copy_of(follow, follow.position))
                    fst = os.fstat(follow.fd)
            elif follow.seen_mtime_ns >= 0:
                # The file was empty at the last look, so it has no fingerprint: a copy made since
                # then that the file does not start with shows it was written, copied and
                # truncated in between.
                copy = self._copy_of(follow, follow.position, newer_than_ns=follow.seen_mtime_ns)
                if copy is not None:
                    self._truncated(follow, now, out, copy)
                    fst = os.fstat(follow.fd)
            follow.seen_size, follow.seen_mtime_ns = fst.st_size, fst.st_mtime_ns
            self._refresh_fingerprint(follow, fst.st_size)
        if fst.st_size > follow.read_offset:
            follow.last_growth = now
            self._read(follow, now, out, flush_partial, limit=self.max_bytes_per_poll)
        elif flush_partial:
            self._flush_partial(follow, now, out)

    def _rotated(self, follow: _Follow, now: datetime, out: list[LogLine]) -> None:
        """The path names another file now (or none): keep watching this generation for the
        writer's last lines while the path's new file is followed from its start."""
        log.info(
            "tail_rotated path=%s inode=%d; following the new file, draining the old one", follow.path, follow.ref.ino
        )
        del self._follows[follow.path]
        self._read(follow, now, out, False, limit=self.max_bytes_per_poll)
        follow.last_growth = now
        self._draining.setdefault(follow.path, []).append(follow)

    def _poll_draining(self, path: str, old: _Follow, now: datetime, out: list[LogLine]) -> None:
        got, at_end = self._read(old, now, out, False, limit=self.max_bytes_per_poll)
        if got:
            old.last_growth = now
        quiet = old.last_growth is None or (now - old.last_growth).total_seconds() >= self.rotate_wait_s
        if not (at_end and quiet):
            return
        # The writer moved on: its last unterminated line will never be completed.
        self._flush_partial(old, now, out)
        self._retire(old)
        _close(old.fd)
        olds = self._draining[path]
        olds.remove(old)
        if not olds:
            del self._draining[path]
        log.info("tail_rotated_done path=%s inode=%d", path, old.ref.ino)

    def _truncated(self, follow: _Follow, now: datetime, out: list[LogLine], copy: str | None) -> None:
        log.info("tail_truncated path=%s inode=%d offset=%d", follow.path, follow.ref.ino, follow.line_start)
        self._recover_copy(follow.path, follow.position, copy, now, out)
        size = os.fstat(follow.fd).st_size
        fp_len, fp = _fingerprint(follow.fd, size)
        follow.ref = FileRef(follow.ref.dev, follow.ref.ino, fp_len, fp)
        follow.read_offset = follow.line_start = 0
        follow.partial.clear()
        follow.partial_dropped = 0

    def _copy_of(self, follow: _Follow, pos: FilePosition, newer_than_ns: int = -1) -> str | None:
        known = {(f.ref.dev, f.ref.ino) for f in self._all_follows()} | self._retired.keys()
        return _find_copy(follow.path, pos, known, follow.fd, newer_than_ns)

    def _recover_copy(self, path: str, pos: FilePosition, copy: str | None, now: datetime, out: list[LogLine]) -> None:
        """Emit what the copy made by copytruncate holds beyond ``pos`` (lines written between our
        last read and the copy)."""
        if copy is None:
            log.warning(
                "tail_truncated_without_copy path=%s offset=%d: lines written after that offset and "
                "before the truncation are lost",
                path,
                pos.offset,
            )
            return
        try:
            fd = os.open(copy, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return
        try:
            fst = os.fstat(fd)
            ref = FileRef(fst.st_dev, fst.st_ino, pos.file.fp_len, pos.file.fp)
            tmp = _Follow(path, fd, ref, pos.offset, pos.offset)
            self._read(tmp, now, out, True, limit=None)
            log.info("tail_copy_recovered path=%s copy=%s bytes=%d", path, copy, tmp.read_offset - pos.offset)
        finally:
            _close(fd)

    def _refresh_fingerprint(self, follow: _Follow, size: int) -> None:
        # A file first seen small gets a longer fingerprint once it has grown (same prefix).
        if follow.ref.fp_len < FINGERPRINT_BYTES and size > follow.ref.fp_len:
            fp_len, fp = _fingerprint(follow.fd, size)
            follow.ref = FileRef(follow.ref.dev, follow.ref.ino, fp_len, fp)

    def _retire(self, follow: _Follow) -> None:
        try:
            if os.fstat(follow.fd).st_nlink == 0:
                return  # deleted: no name can show it again, and its inode number may be reused
        except OSError:
            return
        self._retired[(follow.ref.dev, follow.ref.ino)] = follow.position
        while len(self._retired) > RETIRED_LIMIT:
            del self._retired[next(iter(self._retired))]

    def _read(
        self, follow: _Follow, now: datetime, out: list[LogLine], flush_partial: bool, limit: int | None
    ) -> tuple[bool, bool]:
        """Read from ``follow.read_offset`` towards the end of the file, at most ``limit`` bytes;
        returns (whether anything was read, whether the end was reached)."""
        got = False
        budget = limit
        while budget is None or budget > 0:
            want = READ_CHUNK if budget is None else min(READ_CHUNK, budget)
            data = os.pread(follow.fd, want, follow.read_offset)
            if not data:
                if flush_partial:
                    self._flush_partial(follow, now, out)
                return got, True
            got = True
            follow.read_offset += len(data)
            self._consume(follow, data, now, out)
            if budget is not None:
                budget -= len(data)
        return got, False

    # ------------------------------------------------------------------ splitting lines

    def _consume(self, follow: _Follow, data: bytes, now: datetime, out: list[LogLine]) -> None:
        last_nl = data.rfind(b"\n")
        if last_nl < 0:
            self._hold(follow, data)
            return
        body: bytes | None = data[:last_nl]
        rest = data[last_nl + 1 :]
        pos = follow.line_start
        if follow.partial or follow.partial_dropped:
            assert body is not None
            first_nl = body.find(b"\n")
            head = body if first_nl < 0 else body[:first_nl]
            raw_len = len(follow.partial) + follow.partial_dropped + len(head)
            raw = bytes(follow.partial) + head[: max(0, self.max_line_bytes - len(follow.partial))]
            follow.partial.clear()
            follow.partial_dropped = 0
            out.append(self._line(follow, raw, raw_len > self.max_line_bytes, pos, pos + raw_len + 1, now))
            pos += raw_len + 1
            body = None if first_nl < 0 else body[first_nl + 1 :]
        if body is not None:
            pos = self._split(follow, body, pos, now, out)
        follow.line_start = pos
        if rest:
            self._hold(follow, rest)

    def _split(self, follow: _Follow, body: bytes, pos: int, now: datetime, out: list[LogLine]) -> int:
        """Emit every line of ``body`` (lines separated by ``\\n``, the last one complete)."""
        source, ref, limit = follow.path, follow.ref, self.max_line_bytes
        # Fast path, the common case: valid UTF-8 without over-long lines, decoded in one go.
        try:
            text: str | None = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            texts = text.split("\n")
            lengths: Iterable[int] = map(len, texts) if body.isascii() else map(len, body.split(b"\n"))
            sizes = list(lengths)
            if max(sizes) <= limit:
                has_cr = "\r" in text
                append = out.append
                for line, size in zip(texts, sizes, strict=True):
                    end = pos + size + 1
                    if has_cr and line.endswith("\r"):
                        line = line[:-1]
                    append(LogLine(source, line, now, None, None, False, False, ref, pos, end))
                    pos = end
                return pos
        for raw in body.split(b"\n"):
            end = pos + len(raw) + 1
            out.append(self._line(follow, raw[:limit], len(raw) > limit, pos, end, now))
            pos = end
        return pos

    def _line(self, follow: _Follow, raw: bytes, truncated: bool, start: int, end: int, now: datetime) -> LogLine:
        if truncated:
            raw = _trim_partial_char(raw)
            self.truncated_lines[follow.path] = self.truncated_lines.get(follow.path, 0) + 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        invalid = False
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            invalid = True
            self.invalid_utf8_lines[follow.path] = self.invalid_utf8_lines.get(follow.path, 0) + 1
        return LogLine(follow.path, text, now, None, None, truncated, invalid, follow.ref, start, end)

    def _hold(self, follow: _Follow, data: bytes) -> None:
        room = self.max_line_bytes - len(follow.partial)
        if room > 0:
            follow.partial += data[:room]
        follow.partial_dropped += max(0, len(data) - max(room, 0))

    def _flush_partial(self, follow: _Follow, now: datetime, out: list[LogLine]) -> None:
        if not follow.partial and not follow.partial_dropped:
            return
        raw_len = len(follow.partial) + follow.partial_dropped
        start = follow.line_start
        out.append(self._line(follow, bytes(follow.partial), follow.partial_dropped > 0, start, start + raw_len, now))
        follow.partial.clear()
        follow.partial_dropped = 0
        follow.line_start = start + raw_len

    def _warn(self, path: str, what: str, exc: OSError) -> None:
        # Once per path until it works again: a missing permission should not flood the log.
        if path in self._warned:
            return
        self._warned.add(path)
        hint = " (check the agent's read permission)" if exc.errno in (errno.EACCES, errno.EPERM) else ""
        log.warning("tail_%s path=%s error=%s%s", what, path, exc.strerror or exc, hint)


# ---------------------------------------------------------------------------- helpers


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _same_file(a: FileRef, b: FileRef) -> bool:
    return (a.dev, a.ino) == (b.dev, b.ino)


def _encode(pos: FilePosition) -> dict[str, Any]:
    f = pos.file
    return {"dev": f.dev, "ino": f.ino, "fp_len": f.fp_len, "fp": f.fp, "offset": pos.offset}


def _decode(raw: Any) -> FilePosition | None:
    try:
        ref = FileRef(int(raw["dev"]), int(raw["ino"]), int(raw["fp_len"]), str(raw["fp"]))
        return FilePosition(ref, int(raw["offset"]))
    except (KeyError, TypeError, ValueError):
        return None


def _trim_partial_char(raw: bytes) -> bytes:
    """``raw`` without a UTF-8 sequence cut short at its end by truncation (which would otherwise
    count as invalid UTF-8)."""
    n = len(raw)
    for back in range(1, min(4, n) + 1):
        byte = raw[n - back]
        if byte < 0x80:
            return raw
        if byte >= 0xC0:  # lead byte: how long its sequence should be
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return raw if back >= need else raw[: n - back]
    return raw


def _last_line_end(fd: int, size: int) -> int:
    """Offset just after the last newline, so starting "at the end" never starts mid-line."""
    if size == 0:
        return 0
    window = min(size, 64 * 1024)
    tail = os.pread(fd, window, size - window)
    nl = tail.rfind(b"\n")
    if nl < 0:
        return size if window < size else 0
    return size - window + nl + 1


def _siblings(path: str) -> list[os.DirEntry[str]]:
    directory = os.path.dirname(path) or "."
    try:
        with os.scandir(directory) as it:
            return [e for e in it if e.path != path and not e.name.endswith(COMPRESSED_SUFFIXES)]
    except OSError:
        return []


def _find_generation(path: str, ref: FileRef) -> str | None:
    """The file in ``path``'s directory that is generation ``ref`` (a rotated name)."""
    for entry in _siblings(path):
        try:
            if entry.inode() != ref.ino or not entry.is_file():
                continue
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if os.fstat(fd).st_dev == ref.dev and _matches(fd, ref):
                return entry.path
        finally:
            _close(fd)
    return None


def _find_copy(
    path: str, pos: FilePosition, known: set[tuple[int, int]], current_fd: int | None, newer_than_ns: int
) -> str | None:
    """The copy copytruncate made of generation ``pos.file``: the newest sibling named after
    ``path`` that starts with the generation's fingerprint and holds at least ``pos.offset``
    bytes. Files the tailer follows itself (``known``) are not copies. Without a fingerprint (the
    file looked empty) it must have been written after ``newer_than_ns`` and differ from what the
    file (``current_fd``) starts with now."""
    base = os.path.basename(path)
    best: tuple[int, str] | None = None
    for entry in _siblings(path):
        if not entry.name.startswith(base):
            continue
        try:
            st = entry.stat()
            if not stat.S_ISREG(st.st_mode) or st.st_size < pos.offset or (st.st_dev, st.st_ino) in known:
                continue
            if pos.file.fp_len == 0 and (newer_than_ns < 0 or st.st_mtime_ns <= newer_than_ns or st.st_size == 0):
                continue
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if pos.file.fp_len:
                is_copy = _matches(fd, pos.file)
            else:
                is_copy = current_fd is not None and not _same_start(fd, current_fd)
            if is_copy and (best is None or st.st_mtime_ns > best[0]):
                best = (st.st_mtime_ns, entry.path)
        finally:
            _close(fd)
    return None if best is None else best[1]


def _same_start(fd_a: int, fd_b: int) -> bool:
    """Whether the shorter of two files is where the longer one starts (within the fingerprint)."""
    a = os.pread(fd_a, FINGERPRINT_BYTES, 0)
    b = os.pread(fd_b, FINGERPRINT_BYTES, 0)
    n = min(len(a), len(b))
    return a[:n] == b[:n] and n > 0
