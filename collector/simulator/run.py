"""``simulate()``: run a simulated fleet against a collector, over the real protocol.

Every simulated host is an agent with its own stream, seqs and acks. First each backfills its
history (``concurrency`` hosts at a time, so memory stays bounded with thousands of hosts), then,
if ``live`` is set, all of them keep streaming one point per series every ``interval``, from the
end of their history on, until ``live`` after the whole fleet has finished its backfill. A host
with the "silent" trouble stops at its silence and does not come back. Streams are spread over
several channels because the collector caps concurrent streams per HTTP/2 connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import numpy as np

from collector.simulator import diagnostics as simulated_diagnostics
from collector.simulator.batches import HistorySchedule, HostFeed, to_ms
from collector.simulator.client import AgentClient, ClientCounters, ClientPolicy, Connector, SimulationError
from collector.simulator.fleet import Customer, Fleet, FleetSpec, build_fleet
from collector.simulator.noise import key_of, uniform
from collector.simulator.trouble import Trouble, TroubleSpec, plan_troubles
from protos.patrol.v1 import agent_pb2

METHOD = "/patrol.v1.AgentService/Connect"
_FOREVER_MS = 2**62
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """TLS towards the collector. Without ``ca_cert`` the system's roots are trusted."""

    ca_cert: Path | None = None
    client_cert: Path | None = None  # mutual TLS: the agent's certificate …
    client_key: Path | None = None  # … and its key
    server_name: str | None = None  # expected name in the collector's certificate, if not the target host

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None, what: str) -> bytes | None:
            if path is None:
                return None
            try:
                return path.read_bytes()
            except OSError as e:
                raise SimulationError(f"cannot read the {what} {path}: {e.strerror}") from None

        if (self.client_cert is None) != (self.client_key is None):
            raise SimulationError("mutual TLS needs both a client certificate and its key")
        return grpc.ssl_channel_credentials(read(self.ca_cert, "CA certificate"),
                                            read(self.client_key, "client key"),
                                            read(self.client_cert, "client certificate"))


@dataclass(frozen=True, slots=True)
class ProgressInfo:
    phase: str  # "backfill", "live" or "done"
    elapsed_s: float
    agents: int
    agents_connected: int
    agents_backfilled: int
    samples_planned: int  # history samples of the whole fleet
    history_samples_acked: int
    samples_sent: int  # history and live
    samples_acked: int
    events_sent: int
    events_acked: int
    batches_sent: int
    batches_acked: int
    resends: int
    reconnects: int

    @property
    def backfill_fraction(self) -> float:
        if self.samples_planned == 0:
            return 1.0
        return min(1.0, self.history_samples_acked / self.samples_planned)


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    id: str
    name: str
    timezone: str
    language: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    target: str
    seed: int
    customers: tuple[CustomerSummary, ...]
    agents: int
    history_start: datetime
    history_end: datetime
    live_until: datetime | None
    samples_sent: int
    samples_acked: int
    events_sent: int
    events_acked: int
    batches_sent: int
    batches_acked: int
    resends: int
    reconnects: int
    bytes_sent: int
    troubles: tuple[Trouble, ...]
    skipped_troubles: tuple[str, ...]
    backfill_s: float
    duration_s: float

    @property
    def hosts_per_customer(self) -> dict[str, int]:
        return {c.id: len(c.hosts) for c in self.customers}

    def lines(self) -> list[str]:
        """A human-readable account of the run, for the CLI."""
        out = [
            f"simulated {self.agents} agents for {len(self.customers)} customers against {self.target} "
            f"(seed {self.seed})",
            f"history {self.history_start:%Y-%m-%d %H:%M} → {self.history_end:%Y-%m-%d %H:%M} UTC"
            + (f", live until {self.live_until:%Y-%m-%d %H:%M:%S} UTC" if self.live_until else ""),
            f"samples {self.samples_acked:,} acked of {self.samples_sent:,} sent; events {self.events_acked:,} of "
            f"{self.events_sent:,}; batches {self.batches_acked:,} of {self.batches_sent:,}; resends "
            f"{self.resends:,}; reconnects {self.reconnects:,}",
            f"backfill took {self.backfill_s:.1f}s, whole run {self.duration_s:.1f}s "
            f"({self.samples_acked / max(self.backfill_s, 1e-9):,.0f} samples/s during backfill)"
            if self.backfill_s else f"whole run {self.duration_s:.1f}s",
        ]
        for c in self.customers:
            out.append(f"  {c.id} ({c.name}, {c.timezone}): {', '.join(c.hosts)}")
        for t in self.troubles:
            eta = f", fails {t.eta:%Y-%m-%d %H:%M} UTC" if t.eta else ""
            out.append(f"  trouble {t.kind.value} on {t.host} [{t.subject}]: {t.description}{eta}")
        out.extend(f"  not injected: {reason}" for reason in self.skipped_troubles)
        return out


@dataclass(slots=True)
class _RunState:
    phase: str = "backfill"
    connected: int = 0
    backfilled: int = 0
    backfill_done_at: float | None = None
    started: float = field(default_factory=time.monotonic)


class _ChannelPool:
    """Several channels with separate connections: the collector caps streams per HTTP/2 connection."""

    def __init__(self, target: str, tls: TlsOptions | None, count: int) -> None:
        options: list[tuple[str, int | str]] = [
            ("grpc.use_local_subchannel_pool", 1),  # one TCP connection per channel
            ("grpc.max_send_message_length", 64 * 2**20),
            ("grpc.max_receive_message_length", 64 * 2**20),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
        ]
        if tls is not None and tls.server_name:
            options.append(("grpc.ssl_target_name_override", tls.server_name))
        credentials = tls.credentials() if tls is not None else None
        self.channels = [
            grpc.aio.secure_channel(target, credentials, options=options) if credentials is not None
            else grpc.aio.insecure_channel(target, options=options)
            for _ in range(count)
        ]
        self._methods = [
            ch.stream_stream(METHOD, request_serializer=None,
                             response_deserializer=agent_pb2.CollectorMessage.FromString)
            for ch in self.channels
        ]

    def connector(self, index: int) -> Connector:
        method = self._methods[index % len(self._methods)]
        return lambda: method()  # type: ignore[return-value]

    async def close(self) -> None:
        await asyncio.gather(*(ch.close() for ch in self.channels), return_exceptions=True)


def _validate_target(target: str) -> None:
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"collector address must be host:port (e.g. 127.0.0.1:4317), got {target!r}")


async def _sleep_or_stop(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def simulate(
    target: str,
    agents: int = 12,
    customers: int = 3,
    history: timedelta = timedelta(days=90),
    step: timedelta = timedelta(minutes=5),
    *,
    coarse_step: timedelta = timedelta(minutes=30),
    fine_window: timedelta = timedelta(days=2),
    live: timedelta | None = None,
    interval: timedelta = timedelta(seconds=10),
    seed: int = 1,
    trouble: TroubleSpec | None = None,
    tls: TlsOptions | None = None,
    progress: Callable[[ProgressInfo], None] | None = None,
    clock: Clock | None = None,
    concurrency: int = 16,
    batch_samples: int = 20_000,
    streams_per_channel: int = 16,
    policy: ClientPolicy | None = None,
    stop: asyncio.Event | None = None,
) -> SimulationSummary:
    """Simulate ``agents`` hosts of ``customers`` customers against the collector at ``target``.

    History covers ``history`` before now (``step`` resolution for the last ``fine_window``,
    ``coarse_step`` before that), with the default ``TroubleSpec`` injected unless ``trouble`` says
    otherwise. With ``live``, the fleet keeps streaming every ``interval`` (catching up from the end of
    history first) until ``live`` after the last backfill finished. ``progress`` is called about
    twice a second. Setting ``stop`` ends the run early and cleanly (everything sent so far is
    acked); cancelling the task ends it at once.
    Raises ``SimulationError`` when the collector is unreachable or rejects the agents.
    """
    _validate_target(target)
    if interval <= timedelta(0):
        raise ValueError(f"interval must be positive, got {interval}")
    if concurrency < 1 or streams_per_channel < 1:
        raise ValueError("concurrency and streams_per_channel must be at least 1")
    clock = clock or (lambda: datetime.now(UTC))
    schedule = HistorySchedule(history, step, coarse_step, fine_window)
    fleet = build_fleet(FleetSpec(agents=agents, customers=customers, seed=seed))
    end_ms = schedule.end_of(clock())
    plan = plan_troubles(fleet, trouble if trouble is not None else TroubleSpec(), _dt(end_ms))
    feeds = [HostFeed(h, plan.for_host(h.index), end_ms, batch_samples) for h in fleet.hosts]
    planned = sum(f.history_samples(schedule) for f in feeds)
    counters = ClientCounters()
    state = _RunState()
    pool = _ChannelPool(target, tls, math.ceil(agents / streams_per_channel))

    def snapshot() -> ProgressInfo:
        return ProgressInfo(state.phase, time.monotonic() - state.started, agents, state.connected,
                            state.backfilled, planned, counters.history_samples_acked, counters.samples_sent,
                            counters.samples_acked,
                            counters.events_sent, counters.events_acked, counters.batches_sent,
                            counters.batches_acked, counters.resends, counters.reconnects)

    runner = _Runner(feeds, schedule, pool, target, counters, state, policy or ClientPolicy(), clock,
                     asyncio.Semaphore(concurrency), live, to_ms(interval), stop)
    tasks = [asyncio.create_task(runner.agent(i), name=f"simulate-{feed.host.hostname}")
             for i, feed in enumerate(feeds)]
    reporter = asyncio.create_task(_report(progress, snapshot)) if progress is not None else None
    try:
        await _all_or_first_error(tasks + ([reporter] if reporter else []), tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.abort_all()
        if reporter is not None:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        await pool.close()
    state.phase = "done"
    if progress is not None:
        progress(snapshot())
    return _summary(target, fleet, plan.troubles, plan.skipped, schedule, end_ms, runner.live_until_ms, counters,
                    state)


async def _all_or_first_error(waiting: list[asyncio.Task[None]], required: list[asyncio.Task[None]]) -> None:
    """Wait for every task in ``required``; the first failure of any task in ``waiting`` is raised."""
    pending = set(waiting)
    while any(not t.done() for t in required):
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]


async def _report(progress: Callable[[ProgressInfo], None], snapshot: Callable[[], ProgressInfo]) -> None:
    while True:
        progress(snapshot())
        await asyncio.sleep(0.5)


class _Runner:
    """Drives each host's client: backfill under the concurrency limit, then live points."""

    def __init__(self, feeds: list[HostFeed], schedule: HistorySchedule, pool: _ChannelPool, target: str,
                 counters: ClientCounters, state: _RunState, policy: ClientPolicy, clock: Clock,
                 backfill_slots: asyncio.Semaphore, live: timedelta | None, interval_ms: int,
                 stop: asyncio.Event | None) -> None:
        self.feeds, self.schedule, self.pool, self.target = feeds, schedule, pool, target
        self.counters, self.state, self.policy, self.clock = counters, state, policy, clock
        self.backfill_slots = backfill_slots
        self.live = live
        # Set when the last host finishes its backfill: the live phase lasts ``live`` from then on.
        self.live_until_ms: int | None = None
        self.interval_ms = interval_ms
        self.stop = stop
        self.clients: list[AgentClient] = []

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _client(self, index: int, feed: HostFeed) -> AgentClient:
        epoch = uuid.uuid4().hex

        def hello(acked: int, spool: agent_pb2.SpoolStats) -> bytes:
            return feed.hello(epoch, acked, spool=spool).SerializeToString()

        def diagnose(request: agent_pb2.DiagnosticRequest) -> agent_pb2.DiagnosticResult:
            return simulated_diagnostics.answer(feed.host, request, to_ms(self.clock()))

        client = AgentClient(feed.host.agent_id, self.target, epoch, self.pool.connector(index), hello,
                             self.counters, self.policy, seed=feed.host.key, diagnostics=diagnose)
        self.clients.append(client)
        return client

    async def agent(self, index: int) -> None:
        feed = self.feeds[index]
        goes_live = self.live is not None and feed.silent_from_ms is None
        client: AgentClient | None = None
        try:
            async with self.backfill_slots:
                client = self._client(index, feed)
                client.start()
                self.state.connected += 1
                for batch in feed.history(self.schedule):
                    if self._stopped():
                        break
                    await client.send(batch)
                await client.drain()
                self._backfilled()
                if not goes_live or self._stopped():
                    await client.close()
                    return
            await self._live(feed, client)
            await client.close()
        except BaseException:
            if client is not None:
                await client.abort()
            raise
        finally:
            if client is not None:
                self.state.connected -= 1

    def _backfilled(self) -> None:
        self.state.backfilled += 1
        if self.state.backfilled == len(self.feeds):
            self.state.backfill_done_at = time.monotonic()
            if self.live is not None:
                self.state.phase = "live"
                self.live_until_ms = to_ms(self.clock()) + to_ms(self.live)

    async def _live(self, feed: HostFeed, client: AgentClient) -> None:
        interval = self.interval_ms
        # Real agents started at different moments: spread the hosts over the interval.
        offset = int(float(uniform(key_of("phase", feed.host.key), [0])[0]) * interval)
        last = feed.end_ms
        due_from = feed.end_ms + offset + interval
        while not self._stopped():
            until = self.live_until_ms if self.live_until_ms is not None else _FOREVER_MS
            if due_from > until:
                break
            now = to_ms(self.clock())
            if due_from > now:
                await _sleep_or_stop((due_from - now) / 1000, self.stop)
                continue
            # Catch up on every point that fell due while we backfilled or slept.
            due = np.arange(due_from, min(now, until) + 1, interval, dtype=np.int64)
            for batch in feed.live(due, last):
                await client.send(batch)
            last = int(due[-1])
            due_from = last + interval

    async def abort_all(self) -> None:
        await asyncio.gather(*(c.abort() for c in self.clients), return_exceptions=True)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _summary(target: str, fleet: Fleet, troubles: tuple[Trouble, ...], skipped: tuple[str, ...],
             schedule: HistorySchedule, end_ms: int, live_until_ms: int | None, counters: ClientCounters,
             state: _RunState) -> SimulationSummary:
    def customer(c: Customer) -> CustomerSummary:
        return CustomerSummary(c.id, c.name, c.timezone, c.language, tuple(h.hostname for h in fleet.hosts_of(c.id)))

    finished = time.monotonic()
    return SimulationSummary(
        target=target, seed=fleet.spec.seed, customers=tuple(customer(c) for c in fleet.customers),
        agents=len(fleet.hosts), history_start=_dt(end_ms - to_ms(schedule.history)), history_end=_dt(end_ms),
        live_until=_dt(live_until_ms) if live_until_ms is not None else None,
        samples_sent=counters.samples_sent, samples_acked=counters.samples_acked,
        events_sent=counters.events_sent, events_acked=counters.events_acked,
        batches_sent=counters.batches_sent, batches_acked=counters.batches_acked, resends=counters.resends,
        reconnects=counters.reconnects, bytes_sent=counters.bytes_sent, troubles=troubles,
        skipped_troubles=skipped,
        backfill_s=(state.backfill_done_at or finished) - state.started, duration_s=finished - state.started,
    )
