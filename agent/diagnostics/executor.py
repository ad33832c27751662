"""Running diagnostic actions with a timeout, an output cap, chunked streaming and cancellation.

Each request gets two threads: a worker that runs the action's generator, and a pump that moves
its output into ``DiagnosticResult`` chunks on the agent's stream. Limits are enforced by the pump,
which never waits on the action for longer than a flush interval: when the deadline passes, the
cap is reached or a cancel arrives, it aborts the action (killing child processes) and sends the
final chunk at once, whatever the worker is stuck in. So a runaway action costs at most its
timeout and its cap, never more.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.diagnostics.context import Aborted, ActionContext, ActionError, AgentRuntime, Denied
from protos.patrol.v1 import agent_pb2 as pb

if TYPE_CHECKING:
    from agent.diagnostics.actions import Prepared

log = logging.getLogger("patrol.agent.diagnostics")

FLUSH_INTERVAL = 0.2
SEND_PATIENCE = 10.0


@dataclass(frozen=True)
class Job:
    request_id: str
    action: str
    prepared: Prepared
    timeout: float
    max_output: int


@dataclass(frozen=True)
class Outcome:
    status: str  # ok | timeout | truncated | error | cancelled
    error: str
    total_bytes: int
    chunks: int
    duration_s: float


@dataclass(frozen=True)
class _End:
    status: str | None  # None: the action stopped because it was aborted
    error: str = ""


class _Running:
    def __init__(self, job: Job, ctx: ActionContext) -> None:
        self.job = job
        self.ctx = ctx
        self.cancel = threading.Event()
        self.cancel_reason = "cancelled by the collector"
        self.thread: threading.Thread | None = None


class Executor:
    def __init__(self, runtime: AgentRuntime, send: Callable[[pb.DiagnosticResult], bool], *, chunk_bytes: int,
                 max_concurrent: int, clock: Callable[[], float] = time.monotonic,
                 flush_interval: float = FLUSH_INTERVAL, send_patience: float = SEND_PATIENCE) -> None:
        self.runtime = runtime
        self._send_once = send
        self.chunk_bytes = chunk_bytes
        self.max_concurrent = max_concurrent
        self.clock = clock
        self.flush_interval = flush_interval
        self.send_patience = send_patience
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}

    # ------------------------------------------------------------------ control

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def start(self, job: Job, on_done: Callable[[Outcome], None]) -> bool:
        """Run ``job`` in the background; False (nothing started) at the concurrency limit or for a duplicate id."""
        ctx = ActionContext(self.clock() + job.timeout, self.runtime, clock=self.clock)
        run = _Running(job, ctx)
        with self._lock:
            if len(self._running) >= self.max_concurrent or job.request_id in self._running:
                return False
            self._running[job.request_id] = run
        run.thread = threading.Thread(target=self._pump, args=(run, on_done), daemon=True,
                                      name=f"patrol-diag-{job.request_id[:8]}")
        run.thread.start()
        return True

    def cancel(self, request_id: str, reason: str = "cancelled by the collector") -> bool:
        with self._lock:
            run = self._running.get(request_id)
        if run is None:
            return False
        run.cancel_reason = reason
        run.cancel.set()
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Cancel everything running and wait (up to ``timeout``) for the final chunks to go out."""
        with self._lock:
            runs = list(self._running.values())
        for run in runs:
            run.cancel_reason = "the agent is stopping"
            run.cancel.set()
        end = time.monotonic() + timeout
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, end - time.monotonic()))

    def reply(self, request_id: str, status: str, error: str) -> bool:
        """A final answer without output (a refusal); False if it could not be sent."""
        return self._send(pb.DiagnosticResult(request_id=request_id, chunk=0, final=True, status=status,
                                              error=error, total_bytes=0))

    # ------------------------------------------------------------------ internals

    def _send(self, result: pb.DiagnosticResult) -> bool:
        # The stream's outbound queue may be momentarily full, or the stream reconnecting.
        end = time.monotonic() + self.send_patience
        while True:
            if self._send_once(result):
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)

    def _pump(self, run: _Running, on_done: Callable[[Outcome], None]) -> None:
        job, ctx = run.job, run.ctx
        started = self.clock()
        q: queue.Queue[bytes | _End] = queue.Queue(maxsize=16)
        worker = threading.Thread(target=_work, args=(job, ctx, q), daemon=True,
                                  name=f"patrol-diag-work-{job.request_id[:8]}")
        worker.start()
        buf = bytearray()
        chunk = total = 0
        status, error = "", ""
        last_flush = self.clock()
        try:
            while True:
                if run.cancel.is_set():
                    status, error = "cancelled", run.cancel_reason
                    break
                remaining = ctx.remaining()
                if remaining <= 0:
                    status = "timeout"
                    error = f"the action did not finish within {job.timeout:g} s; the output is partial"
                    break
                try:
                    item = q.get(timeout=min(remaining, self.flush_interval))
                except queue.Empty:
                    item = None
                if isinstance(item, _End):
                    if item.status is None:  # stopped by its own deadline check
                        status, error = ("cancelled", run.cancel_reason) if run.cancel.is_set() else (
                            "timeout", f"the action did not finish within {job.timeout:g} s; the output is partial")
                    else:
                        status, error = item.status, item.error
                    break
                if item:
                    room = job.max_output - total
                    if len(item) >= room:
                        buf += item[:room]
                        total += room
                        if len(item) > room or not q.empty():
                            status, error = "truncated", f"output cut at the cap of {job.max_output} bytes"
                            break
                    else:
                        buf += item
                        total += len(item)
                while len(buf) >= self.chunk_bytes:
                    if not self._chunk(job, chunk, bytes(buf[:self.chunk_bytes])):
                        raise ConnectionError
                    del buf[:self.chunk_bytes]
                    chunk += 1
                    last_flush = self.clock()
                if buf and self.clock() - last_flush >= self.flush_interval:
                    if not self._chunk(job, chunk, bytes(buf)):
                        raise ConnectionError
                    buf.clear()
                    chunk += 1
                    last_flush = self.clock()
            ctx.abort()
            # What is left may exceed a chunk (one large piece at the end); the final carries the last one.
            while len(buf) > self.chunk_bytes:
                if not self._chunk(job, chunk, bytes(buf[:self.chunk_bytes])):
                    raise ConnectionError
                del buf[:self.chunk_bytes]
                chunk += 1
        except ConnectionError:
            status, error = "error", "lost the connection to the collector while sending results"
            buf.clear()
        finally:
            ctx.abort()  # kills whatever the action still runs; harmless when it is done
        final = pb.DiagnosticResult(request_id=job.request_id, chunk=chunk, data=bytes(buf), final=True,
                                    status=status, error=error, total_bytes=total)
        if not self._send(final):
            log.warning("event=diag_final_not_sent request=%s status=%s", job.request_id, status)
        worker.join(timeout=1.0)
        if worker.is_alive():
            log.warning("event=diag_worker_stuck request=%s action=%s: it is abandoned (daemon thread)",
                        job.request_id, job.action)
        with self._lock:
            self._running.pop(job.request_id, None)
        outcome = Outcome(status, error, total, chunk + 1, self.clock() - started)
        try:
            on_done(outcome)
        except Exception:
            log.exception("event=diag_on_done_failed request=%s", job.request_id)

    def _chunk(self, job: Job, index: int, data: bytes) -> bool:
        return self._send(pb.DiagnosticResult(request_id=job.request_id, chunk=index, data=data))


def _work(job: Job, ctx: ActionContext, q: queue.Queue[bytes | _End]) -> None:
    def put(item: bytes | _End) -> None:
        while not ctx.aborted:
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    end = _End("ok")
    gen = job.prepared.run(ctx)
    try:
        for piece in gen:
            if ctx.aborted:
                break
            if piece:
                put(piece)
    except Aborted:
        end = _End(None)
    except (ActionError, Denied) as e:
        end = _End("denied" if isinstance(e, Denied) else "error", str(e))
    except Exception as e:
        log.exception("event=diag_action_failed request=%s action=%s", job.request_id, job.action)
        end = _End("error", f"the action failed unexpectedly: {e!r}")
    finally:
        close = getattr(gen, "close", None)  # a generator: run its cleanup (kills its children) now
        if close is not None:
            close()
    put(end)
