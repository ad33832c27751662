"""Allow-listed read-only diagnostics on SSH targets, streamed as they run.

The same actions an agent offers, where they make sense over SSH:

=================  ============================================  ================================
action             arguments                                     runs
=================  ============================================  ================================
system_snapshot    (none)                                        the poll's commands, ``ps``
top_processes      ``sort`` = cpu | mem, ``limit`` = 1..100      ``ps -eo … --sort=-pcpu|-rss``
disk_usage         ``path`` (in the target's ``du_paths``),      ``du -x -k -d DEPTH PATH``
                   ``depth`` = 0..5, ``limit`` = 1..500
listening_ports    (none)                                        ``ss -ltnup``
=================  ============================================  ================================

Arguments are checked before anything is sent: unknown names, non-integers, out-of-range numbers
and paths outside the allow-list raise :class:`ActionDenied`. Command lines are fixed strings plus
validated integers and allow-listed paths (:func:`collector.ssh.commands.command_line` refuses
anything a shell would interpret), so no argument can become shell syntax.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass

from collector.ssh.client import CommandResult, SessionLost, SshConnection, SshError, SshPool, StreamStatus
from collector.ssh.commands import COMMANDS_BY_NAME, command_line
from collector.ssh.config import SshTarget
from collector.ssh.sampler import TargetSampler

DEFAULT_MAX_OUTPUT = 1 * 2**20
MAX_OUTPUT_LIMIT = 16 * 2**20
MAX_TIMEOUT_S = 600.0
_UINT = re.compile(r"^[0-9]{1,6}$")
_PS_FIELDS = "pid,user,pcpu,pmem,rss,etimes,stat,comm"
_PS_SORT = {"cpu": "--sort=-pcpu", "mem": "--sort=-rss"}


class ActionDenied(ValueError):
    """The action or its arguments are not allowed; nothing was run."""


@dataclass(frozen=True)
class ActionSpec:
    name: str
    summary: str
    args: dict[str, str]  # name -> description
    default_timeout: float


ACTIONS: dict[str, ActionSpec] = {
    "system_snapshot": ActionSpec("system_snapshot", "current metrics and the top processes", {}, 30.0),
    "top_processes": ActionSpec("top_processes", "processes by CPU or memory",
                                {"sort": "cpu | mem (default cpu)", "limit": "1..100 (default 15)"}, 15.0),
    "disk_usage": ActionSpec("disk_usage", "largest directories under an allowed path",
                             {"path": "one of the target's du_paths", "depth": "0..5 (default 1)",
                              "limit": "1..500 (default 20)"}, 120.0),
    "listening_ports": ActionSpec("listening_ports", "listening TCP and UDP sockets with their processes", {}, 15.0),
}


def _int_arg(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not isinstance(raw, str) or not _UINT.match(raw):
        raise ActionDenied(f"argument {name}={raw!r} must be a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ActionDenied(f"argument {name}={value} is out of range: use {low}..{high}")
    return value


def _check_names(action: str, args: Mapping[str, str]) -> None:
    allowed = ACTIONS[action].args
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) or "none"
        raise ActionDenied(f"{action} does not take argument(s) {', '.join(unknown)} (accepted: {accepted})")


@dataclass(frozen=True)
class _Plan:
    action: str
    run: Callable[[SshConnection, _Run], Generator[bytes, None, None]]


class _Run:
    """Budget and bookkeeping of one action run."""

    def __init__(self, deadline: float, max_output: int, cancel: threading.Event) -> None:
        self.deadline = deadline
        self.max_output = max_output
        self.cancel = cancel
        self.status = StreamStatus()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def plan(target: SshTarget, action: str, args: Mapping[str, str]) -> _Plan:
    """Validate an action request; raises :class:`ActionDenied` with what is wrong."""
    if action not in ACTIONS:
        raise ActionDenied(f"action {action!r} is not available over SSH (available: {', '.join(ACTIONS)})")
    _check_names(action, args)
    if action == "top_processes":
        sort = args.get("sort", "cpu")
        if sort not in _PS_SORT:
            raise ActionDenied(f"argument sort={sort!r} must be one of {', '.join(_PS_SORT)}")
        limit = _int_arg(args, "limit", 15, 1, 100)
        return _Plan(action, lambda conn, run: _top(conn, run, _PS_SORT[sort], limit))
    if action == "disk_usage":
        path = args.get("path")
        if path is None:
            raise ActionDenied(f"disk_usage needs path=, one of {', '.join(target.du_paths)}")
        normalised = path.rstrip("/") or "/"
        if normalised not in target.du_paths:
            raise ActionDenied(f"path {path!r} is not allowed on {target.host_id}; allowed: "
                               f"{', '.join(target.du_paths)} (set du_paths on the target to change this)")
        depth = _int_arg(args, "depth", 1, 0, 5)
        limit = _int_arg(args, "limit", 20, 1, 500)
        argv = ("du", "-x", "-k", "-d", str(depth), normalised)
        command_line(argv)
        return _Plan(action, lambda conn, run: _du(conn, run, argv, limit))
    if action == "listening_ports":
        return _Plan(action, lambda conn, run: _stream(conn, run, ("ss", "-ltnup")))
    return _Plan(action, _snapshot)


class ActionStream(Iterator[bytes]):
    """Output chunks of a running action. After iteration ends, ``status`` is one of
    ``ok | timeout | truncated | error | cancelled`` (the DiagnosticResult statuses) and
    ``error`` says what went wrong. :meth:`cancel` may be called from another thread."""

    def __init__(self, pool: SshPool, target: SshTarget, chosen: _Plan, timeout: float, max_output: int) -> None:
        self.action = chosen.action
        self.host_id = target.host_id
        self.status = "running"
        self.error: str | None = None
        self.total_bytes = 0
        self._cancel = threading.Event()
        self._run = _Run(time.monotonic() + timeout, max_output, self._cancel)
        self._gen = self._execute(pool, target, chosen)

    def __iter__(self) -> ActionStream:
        return self

    def __next__(self) -> bytes:
        return next(self._gen)

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        if self.status == "running":
            self.status = "cancelled"
        self._gen.close()

    def _execute(self, pool: SshPool, target: SshTarget, chosen: _Plan) -> Generator[bytes, None, None]:
        run = self._run
        for attempt in (1, 2):
            try:
                conn, fresh = pool.get(target)
                chunks = chosen.run(conn, run)
                try:
                    for chunk in chunks:
                        room = run.max_output - self.total_bytes
                        if len(chunk) > room:
                            chunk, run.status.truncated = chunk[:room], True
                        if chunk:
                            self.total_bytes += len(chunk)
                            yield chunk
                        if run.status.truncated:
                            break
                finally:
                    chunks.close()
                break
            except SessionLost as e:
                # The pooled connection died since its last use: dial again once, if nothing was sent yet.
                pool.discard(target.host_id, conn)
                if fresh or attempt == 2 or self.total_bytes:
                    self.status, self.error = "error", str(e)
                    return
            except SshError as e:
                self.status, self.error = "error", str(e)
                return
        st = run.status
        if st.cancelled or self._cancel.is_set():
            self.status = "cancelled"
        elif st.truncated:
            self.status, self.error = "truncated", f"output cut at {self.total_bytes} bytes"
        elif st.timed_out:
            self.status, self.error = "timeout", "the action ran out of time; the output above is partial"
        elif st.error:
            self.status, self.error = "error", st.error
        else:
            self.status = "ok"


def run_action(pool: SshPool, target: SshTarget, action: str, args: Mapping[str, str], *,
               timeout: float | None = None, max_output: int | None = None) -> ActionStream:
    """Validate and start ``action`` on ``target``; raises :class:`ActionDenied` before running anything."""
    chosen = plan(target, action, args)
    limit = min(timeout or ACTIONS[action].default_timeout, MAX_TIMEOUT_S)
    cap = min(max_output or DEFAULT_MAX_OUTPUT, MAX_OUTPUT_LIMIT)
    return ActionStream(pool, target, chosen, limit, cap)


# ------------------------------------------------------------------------------------ the actions


def _stream(conn: SshConnection, run: _Run, argv: tuple[str, ...]) -> Generator[bytes, None, None]:
    status = StreamStatus()
    yield from conn.stream(argv, max(0.0, run.remaining()), run.max_output, status, run.cancel)
    _merge(run, status, argv)


def _merge(run: _Run, status: StreamStatus, argv: tuple[str, ...]) -> None:
    run.status.truncated |= status.truncated
    run.status.timed_out |= status.timed_out
    run.status.cancelled |= status.cancelled
    if status.error:
        run.status.error = f"`{' '.join(argv)}`: {status.error}"
    elif status.exit_status not in (0, None) and not status.total_bytes:
        err = status.stderr.decode("utf-8", "replace").strip()
        run.status.error = f"`{' '.join(argv)}` exited {status.exit_status}" + (f": {err[:300]}" if err else "")


def _lines(conn: SshConnection, run: _Run, argv: tuple[str, ...], status: StreamStatus) -> Generator[bytes, None, None]:
    """Complete output lines of a command as they arrive."""
    pending = b""
    for chunk in conn.stream(argv, max(0.0, run.remaining()), MAX_OUTPUT_LIMIT, status, run.cancel):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def _top(conn: SshConnection, run: _Run, sort: str, limit: int) -> Generator[bytes, None, None]:
    argv = ("ps", "-eo", _PS_FIELDS, sort)
    status = StreamStatus()
    lines = _lines(conn, run, argv, status)
    try:
        for n, line in enumerate(lines):
            yield line + b"\n"
            if n >= limit:  # the header plus `limit` processes; closing the channel ends ps
                break
    finally:
        lines.close()
    _merge(run, status, argv)


def _du(conn: SshConnection, run: _Run, argv: tuple[str, ...], limit: int) -> Generator[bytes, None, None]:
    status = StreamStatus()
    rows: list[tuple[int, bytes]] = []
    for line in _lines(conn, run, argv, status):
        kib, sep, path = line.partition(b"\t")
        if sep and kib.isdigit():
            rows.append((int(kib) * 1024, path))
    rows.sort(key=lambda r: (-r[0], r[1]))
    yield f"{'SIZE':>10}  PATH   (largest {min(limit, len(rows))} of {len(rows)}, du depth {argv[4]})\n".encode()
    for size, path in rows[:limit]:
        yield f"{_human(size):>10}  ".encode() + path + b"\n"
    if status.exit_status not in (0, None):
        errors = status.stderr.decode("utf-8", "replace").strip().splitlines()
        if errors:
            yield f"({len(errors)} error(s) from du, e.g. {errors[0][:200]})\n".encode()
    _merge(run, status, argv)
    if rows:
        run.status.error = None  # partial permission errors still give a useful answer


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


_SNAPSHOT_COMMANDS = ("hostname", "uname", "nproc", "uptime", "meminfo", "loadavg", "mounts", "df", "df_inodes",
                      "net", "tcp", "failed_units", "file_nr")


def _snapshot(conn: SshConnection, run: _Run) -> Generator[bytes, None, None]:
    sampler = TargetSampler()
    # Two /proc/stat readings around the other commands give CPU shares without waiting a poll.
    first = _run_command(conn, run, "stat")
    if first is not None:
        sampler.sample({"stat": first}, time.time())
    results: dict[str, CommandResult] = {}
    for name in _SNAPSHOT_COMMANDS:
        result = _run_command(conn, run, name)
        if result is not None:
            results[name] = result
    second = _run_command(conn, run, "stat")
    if second is not None:
        results["stat"] = second
    output = sampler.sample(results, time.time())
    yield f"# system snapshot of {output.hostname or conn.target.host_id} over SSH\n".encode()
    for s in sorted(output.samples, key=lambda s: (s.name, s.labels)):
        labels = ",".join(f"{k}={v}" for k, v in s.labels)
        yield f"{s.name}{'{' + labels + '}' if labels else ''} {s.value:.6g}\n".encode()
    for problem in output.problems:
        yield f"# not measured: {problem}\n".encode()
    yield b"\n# top processes by CPU\n"
    yield from _top(conn, run, _PS_SORT["cpu"], 10)


def _run_command(conn: SshConnection, run: _Run, name: str) -> CommandResult | None:
    command = COMMANDS_BY_NAME[name]
    result: CommandResult | None = None
    for argv in command.alternatives:
        if run.remaining() <= 0 or run.cancel.is_set():
            run.status.timed_out |= run.remaining() <= 0
            return result
        result = conn.run(argv, min(conn.target.command_timeout, run.remaining()),
                          command.max_output or conn.target.max_output, run.cancel)
        if result.ok or (result.stdout and result.exit_status not in (126, 127)):
            return result
    return result
