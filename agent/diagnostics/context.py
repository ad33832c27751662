"""What a running diagnostic action gets: its deadline, its cancellation and child processes it may start.

An action is a generator of output bytes running on a worker thread. It stops when the executor
aborts it (cancel, timeout or output cap): pure-Python work notices through :meth:`ActionContext.check`,
and child processes are killed, whole process group, so a blocked read returns at once. Children
run without a shell, with stdin closed and a fixed, minimal environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from agent.diagnostics.config import DiagnosticsConfig

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READ_BYTES = 64 * 1024


class Aborted(Exception):
    """The request was cancelled, ran out of time or filled its output cap: stop quietly."""


class ActionError(Exception):
    """The action could not do its work; the message is shown to the engineer."""


class Denied(Exception):
    """The action or its arguments are not allowed here; nothing ran. The message says why."""


@dataclass(frozen=True)
class AgentRuntime:
    """The running agent, as actions see it."""

    agent_id: str
    config: AgentConfig
    spool_stats: Callable[[], Any]
    started_at: float

    @property
    def diagnostics(self) -> DiagnosticsConfig:
        return self.config.diagnostics


def child_env(lang: str = "C.UTF-8") -> dict[str, str]:
    return {"PATH": SAFE_PATH, "LANG": lang, "LC_ALL": lang, "TZ": "UTC"}


@dataclass(frozen=True)
class Completed:
    returncode: int
    output: bytes
    truncated: bool


class ActionContext:
    def __init__(self, deadline: float, runtime: AgentRuntime, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline = deadline
        self.runtime = runtime
        self.clock = clock
        self._aborted = threading.Event()
        self._lock = threading.Lock()
        self._on_abort: dict[int, Callable[[], None]] = {}
        self._next = 0

    # ------------------------------------------------------------------ budget

    def remaining(self) -> float:
        return self.deadline - self.clock()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def check(self) -> None:
        """Raise :class:`Aborted` when the action must stop; call it in long loops."""
        if self._aborted.is_set() or self.remaining() <= 0:
            raise Aborted()

    def sleep(self, seconds: float) -> None:
        self._aborted.wait(max(0.0, min(seconds, self.remaining())))
        self.check()

    def abort(self) -> None:
        """Stop the action: from the executor's thread, never blocks on the action."""
        self._aborted.set()
        with self._lock:
            callbacks = list(self._on_abort.values())
        for cb in callbacks:
            with contextlib.suppress(Exception):
                cb()

    def _register(self, cb: Callable[[], None]) -> int:
        with self._lock:
            self._next += 1
            self._on_abort[self._next] = cb
            token = self._next
        if self._aborted.is_set():
            cb()
        return token

    def _unregister(self, token: int) -> None:
        with self._lock:
            self._on_abort.pop(token, None)

    # ------------------------------------------------------------------ child processes

    def stream(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
               result: list[int] | None = None, stdin: int | None = None) -> Generator[bytes, None, None]:
        """Run ``argv`` (stderr merged into stdout) and yield its output as it comes.

        ``stdin`` is a descriptor the child reads (none by default). The exit status is appended to
        ``result`` when the process ends on its own.
        """
        self.check()
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL if stdin is None else stdin,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env or child_env(),
                                    close_fds=True, start_new_session=True)
        except FileNotFoundError:
            raise ActionError(f"{argv[0]} is not installed on this host (or not on {SAFE_PATH})") from None
        except OSError as e:
            raise ActionError(f"cannot run {argv[0]}: {e.strerror}") from None
        token = self._register(lambda: _kill_group(proc))
        assert proc.stdout is not None
        try:
            fd = proc.stdout.fileno()
            while True:
                data = os.read(fd, READ_BYTES)
                if not data:
                    break
                yield data
            rc = proc.wait(timeout=max(0.1, self.remaining()))
            self.check()
            if result is not None:
                result.append(rc)
        except subprocess.TimeoutExpired:
            raise Aborted() from None
        finally:
            self._unregister(token)
            _kill_group(proc)
            proc.stdout.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)

    def capture(self, argv: Sequence[str], limit: int = 64 * 2**20, env: dict[str, str] | None = None) -> Completed:
        """Run ``argv`` to the end (or ``limit`` bytes of output) and return its output."""
        rc: list[int] = []
        parts: list[bytes] = []
        size = 0
        gen = self.stream(argv, env=env, result=rc)
        truncated = False
        try:
            for data in gen:
                parts.append(data)
                size += len(data)
                if size >= limit:
                    truncated = True
                    break
        finally:
            gen.close()
        return Completed(rc[0] if rc else -1, b"".join(parts)[:limit], truncated)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The child leads its own session, so its process group holds everything it started, including
    # what outlives the child itself (a group id is not reused while any member is alive).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
