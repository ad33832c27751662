"""The gRPC side of the collector: ``patrol.v1.AgentService.Connect``.

Each agent holds one bidirectional stream. The first message must be ``Hello``; data batches are
handed to the ingest writer and acked, cumulatively and in order, only once they are durable.
Malformed, oversized or out-of-protocol input ends that one stream with a clear status; the server
keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError

from collector import metrics
from collector.config import CollectorConfig
from collector.ingest import Batch, HostUpdate, Ingestor, Outcome
from collector.ingest_validation import Door, InvalidMessage, Rejections, SeriesBudget, stored_series
from collector.memory import TrimAfterDrop, release_freed_memory
from collector.store.samples import KeyCache
from protos.patrol.v1 import agent_pb2 as pb

log = logging.getLogger("patrol.server")

SERVICE = "patrol.v1.AgentService"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


PendingAck = tuple[int, "asyncio.Future[Outcome]", Rejections]  # seq, its fate, what the door dropped


def _add_counts(target: Any, counts: dict[str, int]) -> None:
    for reason, n in counts.items():
        target[reason] += n


class StreamError(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


@dataclass
class Identity:
    host_id: str
    customer_id: str
    from_certificate: bool = False


@dataclass
class Session:
    identity: Identity
    hostname: str
    epoch: str
    context: Any
    outbound: asyncio.Queue[pb.CollectorMessage | None] = field(default_factory=asyncio.Queue)
    connected_ms: int = 0
    labels: dict[str, str] = field(default_factory=dict)


def facts_to_dict(facts: pb.Facts) -> dict[str, Any]:
    return MessageToDict(facts, preserving_proto_field_name=True)


def spool_to_dict(spool: pb.SpoolStats) -> dict[str, int]:
    return {f.name: int(getattr(spool, f.name)) for f in pb.SpoolStats.DESCRIPTOR.fields}


class AgentService:
    """Implements ``AgentService.Connect`` over raw bytes so that decoding errors are ours to report."""

    def __init__(self, cfg: CollectorConfig, ingestor: Ingestor, collector_id: str,
                 identify: Callable[[pb.Hello, Any], Identity] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.ingestor = ingestor
        self.collector_id = collector_id
        self.clock = clock
        self.identify = identify or self._identify_from_hello
        self.sessions: dict[str, Session] = {}
        self.active = 0
        self.customers = {c.id for c in cfg.customers}
        self.on_diagnostic_result: Callable[[str, pb.DiagnosticResult], None] | None = None
        self.budget = SeriesBudget(cfg.max_series_per_host, cfg.ingest.max_series_per_collector)
        self.door = Door(cfg.ingest, self.budget, clock)
        # Encoded series keys of columnar batches, decoded once for every stream: a key holds no host, so
        # the series every agent sends (cpu.busy_percent, the root mount…) are decoded once per collector.
        self.series_keys: KeyCache = {}
        self._waiting: deque[asyncio.Future[None]] = deque()  # streams waiting for room in the ingest queue
        self._room_asked = False
        self._trim = TrimAfterDrop()

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE, {"Connect": grpc.stream_stream_rpc_method_handler(self.connect)}
        )

    # ------------------------------------------------------------------ helpers

    def _identify_from_hello(self, hello: pb.Hello, _context: Any) -> Identity:
        return Identity(host_id=hello.agent_id, customer_id=hello.customer)

    def _check_identity(self, ident: Identity) -> None:
        if not _ID.match(ident.host_id or ""):
            raise StreamError(grpc.StatusCode.INVALID_ARGUMENT, "bad_hello",
                              f"Hello.agent_id {ident.host_id!r} is empty or not a valid id "
                              "(letters, digits, '.', '_', ':', '-'; at most 128)")
        if ident.customer_id not in self.customers:
            raise StreamError(grpc.StatusCode.PERMISSION_DENIED, "unknown_customer",
                              f"unknown customer {ident.customer_id!r}: the collector's configuration defines "
                              f"{sorted(self.customers)}")

    async def _submit(self, item: Batch | HostUpdate) -> None:
        while True:
            try:
                self.ingestor.queue.put_nowait(item)
                return
            except queue.Full:
                # Backpressure: wait for room without blocking the event loop.
                metrics.ingest_queue_waits.inc()
                await self._room()

    def _room(self) -> asyncio.Future[None]:
        """Done when this stream's turn comes to retry a full ingest queue. Streams wait in line, and
        the writer thread wakes as many as it made room for, with one call per group of items it takes."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        self._ask_for_room()
        return fut

    def _ask_for_room(self) -> None:
        if not self._room_asked:
            self._room_asked = True
            loop = asyncio.get_running_loop()
            self.ingestor.when_room(lambda: loop.call_soon_threadsafe(self._wake))

    def _wake(self) -> None:
        self._room_asked = False
        room = max(1, self.ingestor.queue.maxsize - self.ingestor.queue.qsize())
        while self._waiting and room:
            fut = self._waiting.popleft()
            if not fut.done():  # a stream that ended while it waited is passed over
                fut.set_result(None)
                room -= 1
        if self._waiting:
            self._ask_for_room()

    @staticmethod
    def _future_callback(loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Future[Outcome],
                                                                    Callable[[Outcome], None]]:
        fut: asyncio.Future[Outcome] = loop.create_future()

        def done(outcome: Outcome) -> None:
            def settle() -> None:
                if not fut.done():
                    fut.set_result(outcome)

            loop.call_soon_threadsafe(settle)

        return fut, done

    # ------------------------------------------------------------------ the stream

    async def connect(self, _request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
        if self.active >= self.cfg.limits.max_streams:
            metrics.streams_rejected.labels("too_many_streams").inc()
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"collector is at its limit of {self.cfg.limits.max_streams} agent streams; retry later")
        self.active += 1
        metrics.streams_active.set(self.active)
        self._trim.observe(self.active)
        session: Session | None = None
        try:
            session = await self._handshake(context)
            await self._serve(session, context)
        except InvalidMessage as e:
            await self._abort(context, session, StreamError(grpc.StatusCode.INVALID_ARGUMENT, e.reason, str(e)))
        except StreamError as e:
            await self._abort(context, session, e)
        except asyncio.CancelledError:
            metrics.streams_ended.labels("cancelled").inc()
            log.info("event=stream_cancelled host=%s", session.identity.host_id if session else context.peer())
            raise
        except Exception:
            # Anything else would reach the client as a bare INTERNAL: say here what it was.
            metrics.streams_ended.labels("internal_error").inc()
            log.exception("event=stream_failed host=%s", session.identity.host_id if session else context.peer())
            raise
        else:
            metrics.streams_ended.labels("closed").inc()
        finally:
            self.active -= 1
            metrics.streams_active.set(self.active)
            if session is not None:
                await self._disconnected(session)
            if self._trim.observe(self.active):
                # Many streams closed: their memory goes back to the OS instead of staying at the peak.
                await asyncio.get_running_loop().run_in_executor(None, release_freed_memory)

    async def _abort(self, context: grpc.aio.ServicerContext, session: Session | None, e: StreamError) -> None:
        metrics.streams_rejected.labels(e.reason).inc()
        metrics.streams_ended.labels(e.code.name.lower()).inc()
        who = session.identity.host_id if session else context.peer()
        log.warning("event=stream_error host=%s reason=%s code=%s detail=%r", who, e.reason, e.code.name, str(e))
        await context.abort(e.code, str(e))

    async def _read(self, context: grpc.aio.ServicerContext,
                    timeout: float | None = None) -> tuple[pb.AgentMessage, bytes] | None:
        if timeout:
            # A deadline on this await only, without wrapping the read in a task of its own.
            async with asyncio.timeout(timeout):
                raw = await context.read()
        else:
            raw = await context.read()
        if raw is grpc.aio.EOF:
            return None
        try:
            msg = pb.AgentMessage.FromString(raw)
        except DecodeError as e:
            raise StreamError(grpc.StatusCode.INVALID_ARGUMENT, "malformed",
                              f"malformed AgentMessage ({len(raw)} bytes): {e}") from None
        if msg.WhichOneof("payload") is None:
            raise StreamError(grpc.StatusCode.INVALID_ARGUMENT, "empty_message",
                              "AgentMessage without a payload (wrong message type?)")
        return msg, raw

    async def _handshake(self, context: grpc.aio.ServicerContext) -> Session:
        try:
            got = await self._read(context, self.cfg.limits.hello_timeout)
        except TimeoutError:
            raise StreamError(grpc.StatusCode.DEADLINE_EXCEEDED, "no_hello",
                              f"no Hello within {self.cfg.limits.hello_timeout:g}s of opening the stream") from None
        if got is None:
            raise StreamError(grpc.StatusCode.CANCELLED, "closed_before_hello", "stream closed before Hello")
        msg = got[0]
        kind = msg.WhichOneof("payload")
        if kind != "hello":
            raise StreamError(grpc.StatusCode.FAILED_PRECONDITION, "no_hello",
                              f"the first message must be Hello, got {kind}")
        hello = msg.hello
        ident = self.identify(hello, context)
        self._check_identity(ident)
        self.door.hello(hello)
        now_ms = int(self.clock() * 1000)
        session = Session(identity=ident, hostname=hello.hostname or hello.facts.hostname or ident.host_id,
                          epoch=hello.spool_epoch, context=context, connected_ms=now_ms, labels=dict(hello.labels))
        old = self.sessions.get(ident.host_id)
        if old is not None:
            # The newest stream of a host wins; the old one is usually a half-dead connection.
            log.info("event=stream_replaced host=%s", ident.host_id)
            old.outbound.put_nowait(pb.CollectorMessage(goodbye=pb.Goodbye(reason="replaced by a newer stream")))
            old.outbound.put_nowait(None)
        self.sessions[ident.host_id] = session
        loop = asyncio.get_running_loop()
        fut, done = self._future_callback(loop)
        await self._submit(HostUpdate(
            host_id=ident.host_id, customer_id=ident.customer_id, hostname=session.hostname,
            labels=session.labels, facts=facts_to_dict(hello.facts) if hello.HasField("facts") else None,
            agent_version=hello.version, connected=True, connected_to=self.collector_id,
            spool=spool_to_dict(hello.spool) if hello.HasField("spool") else None,
            seen_ms=now_ms, done=done))
        if await fut is Outcome.FAILED:
            raise StreamError(grpc.StatusCode.UNAVAILABLE, "store_unavailable",
                              "the collector's store is unavailable; retry later")
        if self.sessions.get(ident.host_id) is session:
            self.budget.seed(ident.host_id, await loop.run_in_executor(
                None, stored_series, self.ingestor.engine, ident.host_id))
        log.info("event=connected host=%s customer=%s epoch=%s version=%s peer=%s", ident.host_id,
                 ident.customer_id, session.epoch, hello.version, context.peer())
        return session

    async def _serve(self, session: Session, context: grpc.aio.ServicerContext) -> None:
        loop = asyncio.get_running_loop()
        acks: asyncio.Queue[PendingAck | None] = asyncio.Queue()
        reader = asyncio.create_task(self._reader(session, context, acks, loop))
        acker = asyncio.create_task(self._acker(session, acks))
        in_flight: set[asyncio.Future[None]] = set()
        writer = asyncio.create_task(self._writer(session, context, in_flight))
        tasks = {reader, acker, writer}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if reader in done and reader.exception() is None:
                # Clean end of the upstream: let pending acks go out before closing.
                acks.put_nowait(None)
                await asyncio.wait({acker}, timeout=30)
                session.outbound.put_nowait(None)
                await asyncio.wait({writer}, timeout=5)
            for t in tasks:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # A write already handed to gRPC's core keeps going when its task is cancelled; aborting the
            # call while it is pending fails with TOO_MANY_OPERATIONS and the client never hears why.
            if in_flight:
                await asyncio.wait(in_flight, timeout=5)

    async def _reader(self, session: Session, context: grpc.aio.ServicerContext,
                      acks: asyncio.Queue[PendingAck | None],
                      loop: asyncio.AbstractEventLoop) -> None:
        host = session.identity.host_id
        idle = self.cfg.limits.idle_timeout
        while True:
            try:
                got = await self._read(context, idle)
            except TimeoutError:
                # A live agent heartbeats long before this; a silent stream holds memory for nothing.
                raise StreamError(grpc.StatusCode.DEADLINE_EXCEEDED, "idle",
                                  f"nothing received for {idle:g}s (limits.idle_timeout)") from None
            if got is None:
                return
            msg, raw = got
            now_ms = int(self.clock() * 1000)
            self.ingestor.touch(host, now_ms)
            kind = msg.WhichOneof("payload")
            columns = kind == "sample_columns"
            metrics.batches_received.labels("samples" if columns else kind).inc()
            if kind == "samples" or columns:
                sent = msg.sample_columns if columns else msg.samples
                samples, rejected, flat = self.door.samples(host, sent, self.series_keys)
                fut, done = self._future_callback(loop)
                # Only a batch the door changed is encoded again; the ingest log keeps what is stored.
                await self._submit(Batch(host_id=host, epoch=session.epoch, seq=samples.seq, done=done,
                                         samples=samples, payload=raw if samples is sent else b"",
                                         rejected=rejected, flat=flat))
                acks.put_nowait((samples.seq, fut, rejected))
                if samples.HasField("spool"):
                    metrics.agent_spool_dropped.labels(host).set(samples.spool.dropped_batches)
            elif kind == "events":
                evs, rejected = self.door.events(msg.events)
                fut, done = self._future_callback(loop)
                await self._submit(Batch(host_id=host, epoch=session.epoch, seq=evs.seq, done=done,
                                         events=evs, rejected=rejected))
                acks.put_nowait((evs.seq, fut, rejected))
            elif kind == "facts":
                self.door.facts(msg.facts)
                await self._submit(HostUpdate(host_id=host, customer_id=session.identity.customer_id,
                                              hostname=msg.facts.hostname or session.hostname,
                                              labels=session.labels, facts=facts_to_dict(msg.facts),
                                              seen_ms=now_ms))
            elif kind == "heartbeat":
                if msg.heartbeat.HasField("spool"):
                    metrics.agent_spool_dropped.labels(host).set(msg.heartbeat.spool.dropped_batches)
                    await self._submit(HostUpdate(
                        host_id=host, customer_id=session.identity.customer_id, hostname=session.hostname,
                        labels=session.labels, seen_ms=now_ms,
                        spool=spool_to_dict(msg.heartbeat.spool)))
            elif kind == "diagnostic_result":
                self.door.diagnostic_result(msg.diagnostic_result)
                if self.on_diagnostic_result is not None:
                    self.on_diagnostic_result(host, msg.diagnostic_result)
            elif kind == "hello":
                raise StreamError(grpc.StatusCode.FAILED_PRECONDITION, "duplicate_hello",
                                  "Hello may only be sent once, as the first message")

    async def _acker(self, session: Session, acks: asyncio.Queue[PendingAck | None]) -> None:
        while True:
            item = await acks.get()
            if item is None:
                return
            ack = pb.Ack(spool_epoch=session.epoch)
            pending: PendingAck = item
            # Acks are cumulative: fold in the results that are already known, then ack the newest.
            while True:
                seq, fut, rejected = pending
                outcome = await fut
                if outcome is Outcome.FAILED:
                    raise StreamError(grpc.StatusCode.UNAVAILABLE, "store_unavailable",
                                      f"could not make batch seq={seq} durable; it stays in the agent's spool, "
                                      "retry later")
                ack.seq = seq
                if outcome is Outcome.ACCEPTED:  # a duplicate's drops were reported with the original
                    _add_counts(ack.rejected_samples, rejected.samples)
                    _add_counts(ack.rejected_events, rejected.events)
                elif outcome is Outcome.QUARANTINED:
                    ack.quarantined_batches += 1
                nxt = acks._queue[0] if not acks.empty() else None  # type: ignore[attr-defined]
                if nxt is None or not nxt[1].done() or nxt[1].result() is Outcome.FAILED:
                    break
                pending = nxt
                acks.get_nowait()
            session.outbound.put_nowait(pb.CollectorMessage(ack=ack))

    async def _writer(self, session: Session, context: grpc.aio.ServicerContext,
                      in_flight: set[asyncio.Future[None]]) -> None:
        while True:
            msg = await session.outbound.get()
            if msg is None:
                return
            write = asyncio.ensure_future(context.write(msg.SerializeToString()))
            in_flight.add(write)
            write.add_done_callback(_settled(in_flight))
            await asyncio.shield(write)

    async def _disconnected(self, session: Session) -> None:
        host = session.identity.host_id
        if self.sessions.get(host) is session:
            del self.sessions[host]
            self.budget.release(host)
            await self._submit(HostUpdate(host_id=host, customer_id=session.identity.customer_id,
                                          hostname=session.hostname, labels=session.labels, connected=False,
                                          seen_ms=int(self.clock() * 1000)))
        log.info("event=disconnected host=%s", host)

    async def send(self, host_id: str, message: pb.CollectorMessage) -> bool:
        """Queue a downstream message on a host's live stream; False when the host is not connected here."""
        session = self.sessions.get(host_id)
        if session is None:
            return False
        session.outbound.put_nowait(message)
        return True


def server_options(cfg: CollectorConfig) -> list[tuple[str, int]]:
    lim = cfg.limits
    return [
        ("grpc.max_receive_message_length", lim.max_message_bytes),
        ("grpc.max_send_message_length", lim.max_message_bytes),
        ("grpc.keepalive_time_ms", int(lim.keepalive * 1000)),
        ("grpc.keepalive_timeout_ms", int(lim.keepalive_timeout * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
        ("grpc.http2.max_ping_strikes", 0),
        # gRPC queues calls that arrive faster than the event loop takes them and, past 1,000 waiting,
        # refuses new ones before any handler runs: the agent sees CANCELLED or INTERNAL and the
        # collector logs nothing. A fleet reconnecting at once (after a restart) is such a burst, so the
        # queue holds as many calls as the collector accepts streams; past that, connect() answers
        # RESOURCE_EXHAUSTED with a reason.
        ("grpc.server.max_pending_requests", lim.max_streams),
        ("grpc.server.max_pending_requests_hard_limit", lim.max_streams),
    ]


def _settled(in_flight: set[asyncio.Future[None]]) -> Callable[[asyncio.Future[None]], None]:
    """A done callback that forgets a finished write and reads its error, which the stream's own end
    already reports (a write fails when the client has gone)."""
    def done(write: asyncio.Future[None]) -> None:
        in_flight.discard(write)
        if not write.cancelled():
            write.exception()
    return done

