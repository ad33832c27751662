"""The agent's one outbound stream to the collector.

Replays the spool in seq order from the last ack after every (re)connect, keeps a bounded window
of batches in flight, applies cumulative acks to the spool, sends heartbeats when idle and
reconnects with exponential backoff and jitter. Nothing leaves the spool until it is acked.

The stream runs on gRPC's asyncio API, in an event loop of the transport's own thread. gRPC's
synchronous API keeps a thread per channel that wakes every 200 ms (and every waiting caller every
100 ms) to check for signals, which on an idle agent cost more CPU than collecting the metrics; the
asyncio API's poller and the loop sleep until there is something to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import grpc
import grpc.aio

from agent.config import AgentConfig
from protos.patrol.v1 import agent_pb2 as pb

log = logging.getLogger("patrol.agent.transport")

METHOD = "/patrol.v1.AgentService/Connect"
# After stop() closed the request side, how long the collector has to end the stream (and send
# its last acks) before the call is cancelled.
CLOSE_GRACE = 2.0


class SpoolLike(Protocol):
    @property
    def epoch(self) -> str: ...

    def pending(self, after_seq: int = 0, limit: int | None = None) -> Iterator[tuple[int, bytes]]: ...
    def ack(self, seq: int) -> None: ...
    def stats(self) -> Any: ...


def backoff_delays(initial: float, maximum: float, rng: random.Random | None = None) -> Iterator[float]:
    """Exponential backoff with jitter: each delay is uniformly drawn from [d/2, d], d doubling up to max."""
    r = rng or random.Random()
    d = initial
    while True:
        yield r.uniform(d / 2, d)
        d = min(maximum, d * 2)


def channel_for(cfg: AgentConfig) -> grpc.aio.Channel:
    """A gRPC asyncio channel to the collector; create it inside the event loop that uses it."""
    t = cfg.transport
    options: list[tuple[str, int | str]] = [
        ("grpc.max_receive_message_length", t.max_message_bytes),
        ("grpc.max_send_message_length", t.max_message_bytes),
        ("grpc.keepalive_time_ms", int(t.keepalive * 1000)),
        ("grpc.keepalive_timeout_ms", int(t.keepalive_timeout * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Bandwidth-delay probing pings along with received data to size flow-control windows for
        # bulk transfers; a batch every few seconds needs none of it, and each ping wakes gRPC's threads.
        ("grpc.http2.bdp_probe", 0),
        ("grpc.initial_reconnect_backoff_ms", int(t.backoff_initial * 1000)),
        # gRPC gives a connection attempt max(backoff, min_reconnect_backoff) to complete; its default
        # of 20 s would keep an agent waiting on a half-open path long after the network healed.
        ("grpc.min_reconnect_backoff_ms", int(t.connect_timeout * 1000)),
        ("grpc.max_reconnect_backoff_ms", int(t.backoff_max * 1000)),
    ]
    if cfg.insecure or cfg.tls is None:
        return grpc.aio.insecure_channel(cfg.collector, options=options)
    tls = cfg.tls
    creds = grpc.ssl_channel_credentials(
        root_certificates=Path(tls.ca).read_bytes() if tls.ca else None,
        private_key=Path(tls.key).read_bytes() if tls.key else None,
        certificate_chain=Path(tls.cert).read_bytes() if tls.cert else None,
    )
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.aio.secure_channel(cfg.collector, creds, options=options)


class Transport:
    def __init__(self, cfg: AgentConfig, spool: SpoolLike, hello: Callable[[], pb.Hello],
                 on_message: Callable[[pb.CollectorMessage], None] | None = None) -> None:
        self.cfg = cfg
        self.spool = spool
        self.hello = hello
        self.on_message = on_message
        self._stop = threading.Event()
        self._out: queue.Queue[bytes] = queue.Queue(maxsize=1024)
        self._thread: threading.Thread | None = None
        # The event loop of the transport thread while it runs; other threads reach it only through
        # call_soon_threadsafe (see _poke).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None  # new data, room in the window, or stop
        self._halt: asyncio.Event | None = None  # stop() was called
        self._stream_done = False
        self._last_sent = 0
        self._last_acked = 0
        self.connected = threading.Event()
        self.stats = {"connects": 0, "acks": 0, "sent": 0, "errors": 0,
                      "rejected_samples": 0, "rejected_events": 0, "quarantined_batches": 0}
        # What the collector dropped from acked batches for breaking its bounds, by reason.
        self.rejected: dict[str, int] = {}

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="patrol-transport", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New data is in the spool."""
        self._poke(halt=False)

    def send(self, message: pb.AgentMessage) -> bool:
        """Send an unspooled message (facts, diagnostic results) on the live stream; False when offline."""
        if not self.connected.is_set():
            return False
        try:
            self._out.put_nowait(message.SerializeToString())
        except queue.Full:
            return False
        self.notify()
        return True

    def stop(self, drain_timeout: float = 5.0) -> None:
        """Give spooled batches a moment to be sent and acked, then close the stream.

        Whatever is not acked by then stays in the spool and goes out after the next start.
        """
        deadline = time.monotonic() + drain_timeout
        self.notify()
        while (self.connected.is_set() and self.spool.stats().depth_batches > 0
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self._stop.set()
        self._poke(halt=True)
        if self._thread is not None:
            self._thread.join(timeout=drain_timeout + CLOSE_GRACE + 5)

    def _poke(self, *, halt: bool) -> None:
        loop, wake, stopping = self._loop, self._wake, self._halt
        if loop is None or wake is None or stopping is None:
            return  # not running yet: the stream looks at the spool and the stop flag when it starts
        with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
            loop.call_soon_threadsafe(wake.set)
            if halt:
                loop.call_soon_threadsafe(stopping.set)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._wake, self._halt = asyncio.Event(), asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop.is_set():
            self._halt.set()
        try:
            await self._connect_loop()
        finally:
            self._loop = None

    async def _connect_loop(self) -> None:
        delays = backoff_delays(self.cfg.transport.backoff_initial, self.cfg.transport.backoff_max)
        while not self._stop.is_set():
            healthy = False
            try:
                healthy = await self._stream_once()
            except grpc.RpcError as e:
                self.stats["errors"] += 1
                code = e.code() if hasattr(e, "code") else None
                detail = e.details() if hasattr(e, "details") else str(e)
                log.warning("event=stream_failed collector=%s code=%s detail=%r", self.cfg.collector,
                            getattr(code, "name", code), detail)
            except Exception:
                self.stats["errors"] += 1
                log.exception("event=stream_crashed collector=%s", self.cfg.collector)
            finally:
                self.connected.clear()
            if self._stop.is_set():
                break
            if healthy:
                delays = backoff_delays(self.cfg.transport.backoff_initial, self.cfg.transport.backoff_max)
            delay = next(delays)
            log.info("event=reconnect_in seconds=%.1f", delay)
            await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when stop() is called."""
        assert self._halt is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._halt.wait(), seconds)

    def _note_drops(self, ack: pb.Ack) -> None:
        """Count and log what the collector reported dropping: the spool forgets these batches now."""
        samples, events = sum(ack.rejected_samples.values()), sum(ack.rejected_events.values())
        if not (samples or events or ack.quarantined_batches):
            return
        self.stats["rejected_samples"] += samples
        self.stats["rejected_events"] += events
        self.stats["quarantined_batches"] += ack.quarantined_batches
        for kind, counts in (("samples", ack.rejected_samples), ("events", ack.rejected_events)):
            for reason, n in counts.items():
                self.rejected[f"{kind}.{reason}"] = self.rejected.get(f"{kind}.{reason}", 0) + n
        log.warning("event=collector_dropped upto_seq=%d samples=%s events=%s quarantined_batches=%d",
                    ack.seq, dict(ack.rejected_samples), dict(ack.rejected_events), ack.quarantined_batches)

    async def _stream_once(self) -> bool:
        """One stream's life; True when it got at least one ack (so backoff resets)."""
        assert self._wake is not None
        self._last_acked = int(self.spool.stats().acked_seq)
        self._last_sent = self._last_acked
        self._stream_done = False
        got_ack = False
        async with channel_for(self.cfg) as channel:
            call = channel.stream_stream(METHOD, request_serializer=None,
                                         response_deserializer=pb.CollectorMessage.FromString)(self._requests())
            self.stats["connects"] += 1
            closer = asyncio.ensure_future(self._cancel_after_stop(call))
            try:
                async for msg in call:
                    kind = msg.WhichOneof("payload")
                    if kind == "ack":
                        if msg.ack.spool_epoch and msg.ack.spool_epoch != self.spool.epoch:
                            continue
                        if msg.ack.seq > self._last_acked:
                            self.spool.ack(msg.ack.seq)
                            self._last_acked = msg.ack.seq
                            self._wake.set()  # room in the window
                            self.stats["acks"] += 1
                            self._note_drops(msg.ack)
                            got_ack = True
                            if not self.connected.is_set():
                                self.connected.set()
                    elif kind == "goodbye":
                        log.warning("event=goodbye reason=%r retry_after=%s", msg.goodbye.reason,
                                    msg.goodbye.retry_after_s)
                        if msg.goodbye.retry_after_s:
                            await self._pause(min(msg.goodbye.retry_after_s, self.cfg.transport.backoff_max))
                        break
                    elif self.on_message is not None:
                        self.on_message(msg)
            except asyncio.CancelledError:
                assert self._halt is not None
                if not self._halt.is_set():
                    raise
                # _cancel_after_stop ended a stream the collector did not close in time.
            finally:
                self._stream_done = True
                self._wake.set()
                closer.cancel()
                call.cancel()
        return got_ack

    async def _cancel_after_stop(self, call: grpc.aio.StreamStreamCall) -> None:
        assert self._halt is not None
        await self._halt.wait()
        await asyncio.sleep(CLOSE_GRACE)
        call.cancel()

    async def _requests(self) -> AsyncIterator[bytes]:
        assert self._wake is not None
        wake = self._wake
        hello = self.hello()
        # What the collector was last told the spool dropped. The Hello may be written long before the
        # collector reads it (the channel waits for it to come up while the spool keeps dropping): any
        # change since goes out in a heartbeat as soon as the stream moves.
        reported = _drops(hello.spool)
        yield pb.AgentMessage(hello=hello).SerializeToString()
        self.connected.set()
        t = self.cfg.transport
        last_activity = time.monotonic()
        while not self._stop.is_set() and not self._stream_done:
            # Cleared before looking, so a notify() from now on is not missed by the wait below.
            wake.clear()
            sent_any = False
            while True:
                try:
                    yield self._out.get_nowait()
                    sent_any = True
                except queue.Empty:
                    break
            room = t.window - (self._last_sent - self._last_acked)
            if room > 0:
                for seq, payload in list(self.spool.pending(after_seq=self._last_sent, limit=room)):
                    yield payload
                    self._last_sent = seq
                    self.stats["sent"] += 1
                    sent_any = True
            now = time.monotonic()
            st = self.spool.stats()
            if sent_any and _drops(st) == reported:
                last_activity = now
                continue
            if now - last_activity >= t.heartbeat or _drops(st) != reported:
                yield pb.AgentMessage(heartbeat=pb.Heartbeat(
                    timestamp_ms=int(time.time() * 1000), spool=spool_stats_pb(st))).SerializeToString()
                reported = _drops(st)
                last_activity = now
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), t.heartbeat - (now - last_activity))

def _drops(st: Any) -> tuple[int, int, int]:
    """The spool's drop counters, from its stats or from a SpoolStats message."""
    return int(st.dropped_batches), int(st.dropped_samples), int(st.dropped_events)


def spool_stats_pb(st: Any) -> pb.SpoolStats:
    return pb.SpoolStats(depth_batches=st.depth_batches, depth_bytes=st.depth_bytes,
                         dropped_batches=st.dropped_batches, dropped_samples=st.dropped_samples,
                         dropped_events=st.dropped_events, corrupt_records=st.corrupt_records)
