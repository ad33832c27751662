"""The protocol client of one simulated agent: the agent's side of ``AgentService.Connect``.

It behaves like the real agent's transport, minus the disk: batches get consecutive seqs within a
spool epoch and stay in memory until a cumulative Ack covers them; up to ``window`` batches are in
flight; after any disconnect it reconnects with exponential backoff and jitter, sends Hello again
and resends every un-acked batch in order. A Goodbye ends the stream and the client comes back after
the collector's ``retry_after_s``. Statuses that retrying cannot fix (an unknown customer, a
malformed message) stop the agent with an error saying so.

Thousands of clients share one asyncio loop; each is three small tasks (session, reader, writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from collector.simulator.batches import Batch
from protos.patrol.v1 import agent_pb2

log = logging.getLogger("patrol.simulator.client")

# Everything else (INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION, …) is a
# verdict on this agent or its messages; sending the same again would get the same answer.
RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED,
})

HelloFactory = Callable[[int, agent_pb2.SpoolStats], bytes]
Connector = Callable[[], "grpc.aio.StreamStreamCall[bytes, agent_pb2.CollectorMessage]"]
# How a simulated host answers a diagnostic request (see collector.simulator.diagnostics).
DiagnosticsAnswer = Callable[[agent_pb2.DiagnosticRequest], agent_pb2.DiagnosticResult]


class SimulationError(Exception):
    """The simulation cannot go on; the message says what failed and what to do."""


class AgentRejected(SimulationError):
    pass


class CollectorUnreachable(SimulationError):
    pass


@dataclass(slots=True)
class ClientCounters:
    """Totals over all agents sharing this object. ``*_sent`` count first transmissions only."""

    batches_sent: int = 0
    batches_acked: int = 0
    samples_sent: int = 0
    samples_acked: int = 0
    history_samples_acked: int = 0  # the backfill part of samples_acked
    events_sent: int = 0
    events_acked: int = 0
    bytes_sent: int = 0
    resends: int = 0
    connects: int = 0
    reconnects: int = 0
    goodbyes: int = 0
    foreign_acks: int = 0  # acks for another spool epoch, ignored
    diagnostics_denied: int = 0
    diagnostics_answered: int = 0


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    window: int = 64  # batches in flight
    max_inflight_bytes: int = 4 * 2**20
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    give_up_after: float = 60.0  # seconds without any progress before the agent fails
    close_timeout: float = 10.0  # how long to wait for the collector to end the stream on close

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        if self.backoff_initial <= 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_initial must be > 0 and backoff_max >= backoff_initial")


@dataclass(slots=True)
class _Pending:
    data: bytes
    samples: int
    events: int
    history: bool
    written: bool = False


class _SessionEnd(Exception):
    """How one stream ended, when it did not end cleanly."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class AgentClient:
    def __init__(self, agent_id: str, target: str, epoch: str, connect: Connector, hello: HelloFactory,
                 counters: ClientCounters, policy: ClientPolicy | None = None, seed: int = 0,
                 diagnostics: DiagnosticsAnswer | None = None) -> None:
        self.agent_id = agent_id
        self.target = target
        self.epoch = epoch
        self._connect = connect
        self._hello = hello
        self.counters = counters
        self.policy = policy or ClientPolicy()
        self._rng = random.Random(seed)
        self._diagnostics = diagnostics
        self._cond = asyncio.Condition()
        self._inflight: dict[int, _Pending] = {}
        self._inflight_bytes = 0
        self._next_seq = 1
        self._acked = 0
        self._control: list[bytes] = []
        self._closing = False
        self._failure: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self._retry_after = 0.0
        self._cursor = 1  # next seq to write on the current stream

    # ------------------------------------------------------------------ public

    @property
    def acked_seq(self) -> int:
        return self._acked

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"agent-{self.agent_id}")
            self._task.add_done_callback(self._on_task_done)

    async def send(self, batch: Batch) -> int:
        """Queue ``batch`` under the next seq; waits while the window is full. Returns the seq."""
        async with self._cond:
            await self._cond.wait_for(self._has_room)
            self._raise_if_failed()
            seq = self._next_seq
            self._next_seq += 1
            data = batch.seal(seq)
            self._inflight[seq] = _Pending(data, batch.samples, batch.events, batch.history)
            self._inflight_bytes += len(data)
            self._cond.notify_all()
        return seq

    async def drain(self) -> None:
        """Wait until every batch sent so far is acked."""
        async with self._cond:
            await self._cond.wait_for(lambda: not self._inflight or self._failure is not None)
        self._raise_if_failed()

    async def close(self) -> None:
        """Wait for all acks, end the stream cleanly, and stop."""
        async with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        self._raise_if_failed()

    async def abort(self) -> None:
        """Stop at once, dropping what is not acked (the end of a cancelled run)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, SimulationError):
                await self._task

    # ------------------------------------------------------------------ internals

    def _has_room(self) -> bool:
        if self._failure is not None:
            return True
        if not self._inflight:
            return True
        return len(self._inflight) < self.policy.window and self._inflight_bytes < self.policy.max_inflight_bytes

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            failure: BaseException = SimulationError(f"agent {self.agent_id}: stopped before all batches were acked")
        else:
            error = task.exception()
            if error is None:
                return
            failure = error
        self._failure = failure

        async def wake() -> None:
            async with self._cond:
                self._cond.notify_all()

        # Waiters in send()/drain() must see the failure instead of waiting for acks forever.
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(wake())

    def _spool_stats(self) -> agent_pb2.SpoolStats:
        return agent_pb2.SpoolStats(depth_batches=len(self._inflight), depth_bytes=self._inflight_bytes)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            self._retry_after = 0.0
            try:
                await self._session(self._connect())
            except _SessionEnd as end:
                if end.code not in RETRYABLE:
                    raise AgentRejected(
                        f"the collector at {self.target} rejected agent {self.agent_id} with {end.code.name}: "
                        f"{end.details}. Retrying would not help; fix the cause (customer defined in the "
                        "collector's config? compatible protocol version?) and run again"
                    ) from None
                if self._closing and not self._inflight:
                    return
                now = loop.time()
                self._down_since = self._down_since if self._down_since is not None else now
                if now - self._down_since > self.policy.give_up_after:
                    raise CollectorUnreachable(
                        f"agent {self.agent_id}: no progress with the collector at {self.target} for "
                        f"{now - self._down_since:.0f}s, {len(self._inflight)} batches un-acked; last error "
                        f"{end}. Is the collector running and reachable there?"
                    ) from None
                log.debug("event=stream_ended agent=%s code=%s details=%r", self.agent_id, end.code.name,
                          end.details)
            else:
                if self._closing and not self._inflight:
                    return
            attempt = 0 if self._down_since is None else attempt + 1
            delay = min(self.policy.backoff_max, self.policy.backoff_initial * 2 ** min(attempt, 20))
            delay = max(self._retry_after, delay * (0.5 + self._rng.random() / 2))
            self.counters.reconnects += 1
            await asyncio.sleep(delay)

    async def _session(self, call: grpc.aio.StreamStreamCall[bytes, agent_pb2.CollectorMessage]) -> None:
        """One stream, from Hello to its end. Returns when it ended cleanly, else raises _SessionEnd."""
        reader = asyncio.create_task(self._reader(call))
        writer = asyncio.create_task(self._writer(call))
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if writer in done and writer.exception() is None:
                # We half-closed after the last ack; the collector should now end the stream.
                await asyncio.wait({reader}, timeout=self.policy.close_timeout)
            elif writer in done and not reader.done():
                # A failed write means the RPC is over; the reader is about to learn its status.
                await asyncio.wait({reader}, timeout=2.0)
            if reader.done():
                error = reader.exception()
                if isinstance(error, grpc.aio.AioRpcError):
                    raise _SessionEnd(error.code(), error.details() or "") from None
                if error is not None:
                    raise error
                if self._inflight and not self._retry_after:
                    raise _SessionEnd(grpc.StatusCode.UNAVAILABLE,
                                      f"collector ended the stream with {len(self._inflight)} batches un-acked")
                if self._retry_after or not self._closing:
                    raise _SessionEnd(grpc.StatusCode.UNAVAILABLE, "collector ended the stream")
                return
            writer_error = writer.exception() if writer.done() else None
            raise _SessionEnd(grpc.StatusCode.UNAVAILABLE, f"stream broke: {writer_error or 'no status'}")
        finally:
            for task in (reader, writer):
                task.cancel()
            call.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    async def _writer(self, call: grpc.aio.StreamStreamCall[bytes, agent_pb2.CollectorMessage]) -> None:
        await call.write(self._hello(self._acked, self._spool_stats()))
        self.counters.connects += 1
        if not self._inflight:
            self._down_since = None
        self._cursor = self._acked + 1
        while True:
            async with self._cond:
                await self._cond.wait_for(self._writer_has_work)
                data = self._next_write()
            if data is None:
                break
            await call.write(data)
        await call.done_writing()

    def _writer_has_work(self) -> bool:
        # Acks may overtake the cursor: a batch acked on an earlier stream need not be resent.
        self._cursor = max(self._cursor, self._acked + 1)
        return bool(self._control) or self._cursor < self._next_seq or (self._closing and not self._inflight)

    def _next_write(self) -> bytes | None:
        """The next message for the stream, or None when closing and everything is acked."""
        if self._control:
            return self._control.pop(0)
        if self._cursor < self._next_seq:
            pending = self._inflight[self._cursor]
            self._cursor += 1
            self._count_write(pending)
            return pending.data
        return None

    def _count_write(self, pending: _Pending) -> None:
        if pending.written:
            self.counters.resends += 1
            return
        pending.written = True
        self.counters.batches_sent += 1
        self.counters.samples_sent += pending.samples
        self.counters.events_sent += pending.events
        self.counters.bytes_sent += len(pending.data)

    async def _reader(self, call: grpc.aio.StreamStreamCall[bytes, agent_pb2.CollectorMessage]) -> None:
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:
                return
            assert isinstance(message, agent_pb2.CollectorMessage)
            kind = message.WhichOneof("payload")
            if kind == "ack":
                await self._on_ack(message.ack)
            elif kind == "goodbye":
                self.counters.goodbyes += 1
                self._retry_after = max(float(message.goodbye.retry_after_s), self.policy.backoff_initial)
                log.debug("event=goodbye agent=%s reason=%r retry_after_s=%s", self.agent_id, message.goodbye.reason,
                         message.goodbye.retry_after_s)
                return
            elif kind == "diagnostic_request":
                await self._answer(message.diagnostic_request)

    async def _on_ack(self, ack: agent_pb2.Ack) -> None:
        if ack.spool_epoch != self.epoch:
            self.counters.foreign_acks += 1
            return
        async with self._cond:
            seq = min(ack.seq, self._next_seq - 1)
            for s in range(self._acked + 1, seq + 1):
                pending = self._inflight.pop(s)
                self._inflight_bytes -= len(pending.data)
                self.counters.batches_acked += 1
                self.counters.samples_acked += pending.samples
                if pending.history:
                    self.counters.history_samples_acked += pending.samples
                self.counters.events_acked += pending.events
            if seq > self._acked:
                self._acked = seq
                self._down_since = None
            self._cond.notify_all()

    async def _answer(self, request: agent_pb2.DiagnosticRequest) -> None:
        if self._diagnostics is None:
            # Without an answering profile the host has no allow-list: nothing is within the customer's consent.
            result = agent_pb2.DiagnosticResult(
                request_id=request.request_id, chunk=0, final=True, status="denied",
                error=f"action {request.action!r} is not allowed on this (simulated) agent")
        else:
            result = self._diagnostics(request)
        if result.status == "denied":
            self.counters.diagnostics_denied += 1
        else:
            self.counters.diagnostics_answered += 1
        async with self._cond:
            self._control.append(agent_pb2.AgentMessage(diagnostic_result=result).SerializeToString())
            self._cond.notify_all()
