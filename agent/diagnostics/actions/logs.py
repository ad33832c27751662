"""``tail_log`` and ``grep_log`` on log files the customer allowed (``diagnostics.log_paths``).

A path is allowed when it matches one of the configured paths or globs (``*`` does not cross ``/``)
both as written and after resolving symbolic links, so a link inside ``/var/log`` cannot expose
``/etc/shadow``. A hard link cannot be resolved that way (every name of a file is equally real),
so a regular file with more than one link is refused: it may be a second name of a file outside the
allowed paths. The file is opened without following a final symbolic link and checked again on the
open descriptor (same device and inode as checked, a regular file, one link), so a file swapped
in between the check and the read is refused too, and both actions read only that descriptor.

Tail reads backwards from the end of the file in-process. Grep runs GNU ``grep`` on the opened
descriptor as a child process under the request's deadline and output cap: its regex engine does not
backtrack (backreferences, the one construct that would, are refused), and the child is killed
the moment the request is cancelled or runs out of time.
"""

from __future__ import annotations

import glob
import os
import re
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext, ActionError, Denied

MAX_TAIL_READ = 64 * 2**20
_BACKREFERENCE = re.compile(r"\\[1-9]")
MAX_LISTED = 50


def available_logs(patterns: list[str]) -> list[str]:
    found: set[str] = set()
    for p in patterns:
        found.update(x for x in glob.glob(p) if os.path.isfile(x))
    return sorted(found)


def _matches(path: str, patterns: list[str]) -> bool:
    pure = PurePosixPath(path)
    return any(pure.match(p) for p in patterns)


@dataclass(frozen=True, slots=True)
class AllowedLog:
    """A log file that passed the allow-list, with the identity it had when it was checked."""

    path: Path
    device: int
    inode: int


def _refuse_multiply_linked(raw: str, st: os.stat_result) -> None:
    if st.st_nlink > 1:
        raise Denied(f"{raw} is a hard link ({st.st_nlink} names for one file): it may be a file from outside "
                     "the allowed log paths, so it is not served; give a log file that has a single name")


def allowed_log(raw: str | None, patterns: list[str]) -> AllowedLog:
    """The real path of an allowed log file; :class:`Denied` naming the allowed ones otherwise."""
    if not patterns:
        raise Denied("no log file may be read on this host: diagnostics.log_paths is empty "
                     "(the customer can list files or globs there in agent.yaml)")
    listing = available_logs(patterns)[:MAX_LISTED]
    hint = f"allowed: {', '.join(listing)}" if listing else f"allowed patterns: {', '.join(patterns)}"
    if not raw:
        raise Denied(f"give path=… ({hint})")
    if not raw.startswith("/"):
        raise Denied(f"path {raw!r} must be absolute ({hint})")
    norm = os.path.normpath(raw)
    if not _matches(norm, patterns):
        raise Denied(f"{raw} is not an allowed log file ({hint})")
    real = os.path.realpath(norm)
    if real != norm and not _matches(real, patterns):
        raise Denied(f"{raw} links to {real}, which is not an allowed log file")
    try:
        st = os.lstat(real)
    except OSError:
        raise Denied(f"{raw} does not exist or is not a regular file ({hint})") from None
    if not stat.S_ISREG(st.st_mode):
        raise Denied(f"{raw} does not exist or is not a regular file ({hint})")
    _refuse_multiply_linked(raw, st)
    return AllowedLog(Path(real), st.st_dev, st.st_ino)


def open_allowed_log(log: AllowedLog) -> int:
    """A read-only descriptor of the checked file itself; :class:`Denied` if something else is there now."""
    # O_NOFOLLOW: a symbolic link swapped in since the check is not followed. O_NONBLOCK: a FIFO swapped
    # in does not hang the open (it is refused below); on a regular file the flag does nothing.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(log.path, flags)
    except OSError as e:
        raise Denied(f"{log.path} cannot be opened any more ({e.strerror}); it changed since it was checked") from None
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (log.device, log.inode) or not stat.S_ISREG(st.st_mode):
            raise Denied(f"{log.path} was replaced between its check and its read; ask again")
        _refuse_multiply_linked(str(log.path), st)
    except BaseException:
        os.close(fd)
        raise
    return fd


def tail_bytes(log: AllowedLog, lines: int, ctx: ActionContext) -> tuple[bytes, int]:
    """The last ``lines`` lines of the log and the file's size."""
    with os.fdopen(open_allowed_log(log), "rb") as f:
        end = f.seek(0, os.SEEK_END)
        pos, buf = end, b""
        while pos > 0 and buf.count(b"\n") <= lines and end - pos < MAX_TAIL_READ:
            ctx.check()
            step = min(64 * 1024, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
    kept = buf.splitlines(keepends=True)[-lines:]
    out = b"".join(kept)
    if out and not out.endswith(b"\n"):
        out += b"\n"
    return out, end


def prepare_tail(params: Params, cfg: DiagnosticsConfig) -> Prepared:
    log = allowed_log(params.text("path", max_len=4096), cfg.log_paths)
    path = log.path
    lines = params.integer("lines", 100, 1, 5000)

    def run(ctx: ActionContext) -> Iterator[bytes]:
        data, size = tail_bytes(log, lines, ctx)
        got = data.count(b"\n")
        yield f"# last {got} lines of {path} ({size} bytes)\n".encode()
        yield data

    return Prepared(run)


def prepare_grep(params: Params, cfg: DiagnosticsConfig) -> Prepared:
    log = allowed_log(params.text("path", max_len=4096), cfg.log_paths)
    path = log.path
    pattern = params.required("pattern", "an extended regular expression, or a plain string with fixed=true",
                              max_len=512)
    fixed = params.flag("fixed")
    ignore_case = params.flag("ignore_case")
    lines = params.integer("lines", 200, 1, 5000)
    where = params.choice("from", "end", ("end", "start"))
    if not fixed and _BACKREFERENCE.search(pattern):
        raise Denied("backreferences (\\1 … \\9) are not allowed in grep patterns: they can take exponential "
                     "time; match the text another way or use fixed=true")
    argv = ["grep", "-a", "-n", "-F" if fixed else "-E"]
    if ignore_case:
        argv.append("-i")
    if where == "start":
        argv += ["-m", str(lines)]
    argv += ["-e", pattern]  # no file operand: grep reads the checked descriptor on its stdin

    def run(ctx: ActionContext) -> Iterator[bytes]:
        with os.fdopen(open_allowed_log(log), "rb") as source:
            yield from grep(ctx, source.fileno())

    def grep(ctx: ActionContext, source: int) -> Iterator[bytes]:
        rc: list[int] = []
        matched = 0
        if where == "start":
            yield f"# first {lines} lines of {path} matching {pattern!r}\n".encode()
            for data in ctx.stream(argv, result=rc, stdin=source):
                matched += data.count(b"\n")
                yield data
        else:
            last: deque[bytes] = deque(maxlen=lines)
            pending = b""
            for data in ctx.stream(argv, result=rc, stdin=source):
                pending += data
                *complete, pending = pending.split(b"\n")
                matched += len(complete)
                last.extend(complete)
            if pending:
                matched += 1
                last.append(pending)
            yield f"# last {len(last)} of {matched} lines of {path} matching {pattern!r}\n".encode()
            if last:
                yield b"\n".join(last) + b"\n"
        if rc and rc[0] == 1:
            yield b"# no line matches\n"
        elif rc and rc[0] > 1:
            raise ActionError(f"grep failed with status {rc[0]} (its message is in the output)")

    return Prepared(run)


TAIL_LOG = ActionSpec("tail_log", "the last lines of an allowed log file",
                      {"path": "a file allowed by diagnostics.log_paths", "lines": "1..5000 (default 100)"},
                      prepare_tail)
GREP_LOG = ActionSpec("grep_log", "lines of an allowed log file matching a pattern (GNU grep -E)",
                      {"path": "a file allowed by diagnostics.log_paths", "pattern": "extended regex (or text)",
                       "fixed": "true: pattern is plain text", "ignore_case": "true | false",
                       "lines": "1..5000 (default 200)", "from": "end (last matches, default) | start"},
                      prepare_grep)
