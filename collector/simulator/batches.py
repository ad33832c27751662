"""Turning a simulated host into protocol messages: Hello, and Samples/Events batches.

History is packed the way the collector ingests it most cheaply: one batch holds every series of a
host over a span of time (each series' name and labels once, then hundreds of points), sized by
``batch_samples``. Recent history comes at a fine step and older history at a coarse one, so 90 days
of a few dozen hosts load in seconds while the last days still show minute-scale detail.

``encoded_batches`` produces the same messages pre-encoded, for benchmarks that want to measure the
collector without paying for the generator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from agent.batch import series_header
from collector.simulator.events import HostEvents, SimEvent
from collector.simulator.fleet import AGENT_VERSION, Fleet, FleetSpec, HostProfile, build_fleet, facts_of
from collector.simulator.noise import IntArray
from collector.simulator.signals import HostSignals, SeriesValues
from collector.simulator.trouble import HostTrouble, TroubleSpec, plan_troubles
from protos.patrol.v1 import agent_pb2

CAPABILITIES = ("samples", "events")


def to_ms(value: datetime | timedelta) -> int:
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1000)
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value} has no time zone; pass an aware UTC datetime")
    return int(value.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class HistorySchedule:
    """Which timestamps the backfill covers: ``step`` for the last ``fine_window``, ``coarse_step`` before."""

    history: timedelta = timedelta(days=90)
    step: timedelta = timedelta(minutes=5)
    coarse_step: timedelta = timedelta(minutes=30)
    fine_window: timedelta = timedelta(days=2)

    def __post_init__(self) -> None:
        if self.history < timedelta(0):
            raise ValueError(f"history must not be negative, got {self.history}")
        if self.step < timedelta(seconds=1):
            raise ValueError(f"step must be at least 1 s, got {self.step}")
        if self.coarse_step < self.step:
            raise ValueError(f"coarse_step ({self.coarse_step}) must not be finer than step ({self.step})")
        if self.fine_window < timedelta(0):
            raise ValueError(f"fine_window must not be negative, got {self.fine_window}")

    def end_of(self, now: datetime) -> int:
        """The end of history for a run started at ``now``: ``now`` floored to the step grid (unix ms)."""
        step = to_ms(self.step)
        return to_ms(now) // step * step

    def timestamps(self, end_ms: int) -> IntArray:
        """Unix-ms timestamps in ``(end - history, end]``, on the step grids, ascending."""
        start = end_ms - to_ms(self.history)
        step, coarse = to_ms(self.step), to_ms(self.coarse_step)
        # The switch to the fine step sits on the coarse grid, so no gap is wider than coarse_step.
        boundary = max(start, (end_ms - to_ms(self.fine_window)) // coarse * coarse)
        old = np.arange((start // coarse + 1) * coarse, boundary + 1, coarse, dtype=np.int64)
        recent = np.arange((boundary // step + 1) * step, end_ms + 1, step, dtype=np.int64)
        return np.concatenate((old, recent))


@dataclass(slots=True)
class Batch:
    """An upstream data message without its sequence number; the sender assigns one when it sends."""

    message: agent_pb2.AgentMessage
    samples: int = 0
    events: int = 0
    history: bool = True  # backfilled history, as opposed to a live point

    def seal(self, seq: int) -> bytes:
        """The encoded AgentMessage carrying ``seq``."""
        kind = self.message.WhichOneof("payload")
        if kind not in ("samples", "sample_columns", "events"):
            raise ValueError(f"only samples and events batches carry a seq, not {kind!r}")
        getattr(self.message, kind).seq = seq
        return self.message.SerializeToString()


def samples_batch(series: list[SeriesValues], ts: IntArray, lo: int = 0, hi: int | None = None) -> Batch:
    """One Samples message in the agent's columnar form: every series, points ``lo:hi`` of ``ts``."""
    message = agent_pb2.AgentMessage()
    batch = message.sample_columns
    stamps = ts[lo:hi]
    batch.keys.extend([series_header(s.name, tuple(sorted(s.labels))) for s in series])
    batch.counts.extend([len(stamps)] * len(series))
    if series:
        batch.timestamps_ms_le = np.tile(stamps, len(series)).astype("<i8").tobytes()
        batch.values_le = np.concatenate([s.values[lo:hi] for s in series]).astype("<f8").tobytes()
    return Batch(message, samples=len(stamps) * len(series))


def events_batches(events: list[SimEvent], max_events: int = 500) -> Iterator[Batch]:
    for i in range(0, len(events), max_events):
        chunk = events[i : i + max_events]
        message = agent_pb2.AgentMessage(events=agent_pb2.Events(events=[e.to_proto() for e in chunk]))
        yield Batch(message, events=len(chunk))


class HostFeed:
    """The protocol view of one simulated host: its Hello, its history, and its live points."""

    def __init__(self, host: HostProfile, trouble: HostTrouble, end_ms: int, batch_samples: int = 20_000,
                 max_events: int = 500) -> None:
        if batch_samples < 1:
            raise ValueError(f"batch_samples must be positive, got {batch_samples}")
        self.host = host
        self.trouble = trouble
        self.end_ms = end_ms
        self.signals = HostSignals(host, trouble, end_ms)
        self.events = HostEvents(host, trouble, self.signals.activity)
        self.series_count = self.signals.series_count()
        self.batch_samples = batch_samples
        self.max_events = max_events

    @property
    def silent_from_ms(self) -> int | None:
        return self.trouble.silent_from_ms

    def history_timestamps(self, schedule: HistorySchedule) -> IntArray:
        ts = schedule.timestamps(self.end_ms)
        if self.silent_from_ms is not None:
            ts = ts[ts <= self.silent_from_ms]
        return ts

    def history_samples(self, schedule: HistorySchedule) -> int:
        return self.series_count * len(self.history_timestamps(schedule))

    def hello(self, epoch: str, acked_seq: int = 0, at_ms: int | None = None,
              spool: agent_pb2.SpoolStats | None = None) -> agent_pb2.AgentMessage:
        at = at_ms if at_ms is not None else self.end_ms
        boot = int(self.signals.boot_time_ms(np.array([at], dtype=np.int64))[0])
        h = self.host
        return agent_pb2.AgentMessage(hello=agent_pb2.Hello(
            agent_id=h.agent_id, hostname=h.hostname, customer=h.customer.id, labels=dict(h.labels),
            version=AGENT_VERSION, facts=facts_of(h, boot), capabilities=list(CAPABILITIES), spool_epoch=epoch,
            acked_seq=acked_seq, spool=spool))

    def history(self, schedule: HistorySchedule) -> Iterator[Batch]:
        """History in time order: per span, one Samples batch, then the span's events."""
        ts = self.history_timestamps(schedule)
        if len(ts):
            yield from self._spans(ts, int(ts[0]) - 1, history=True)

    def live(self, ts: IntArray, events_after_ms: int) -> list[Batch]:
        """Batches for live points at ``ts`` and the events in ``(events_after_ms, ts[-1]]``.

        A long catch-up (after a slow backfill) is split like history, so no message outgrows
        the collector's size limit.
        """
        return list(self._spans(ts, events_after_ms, history=False))

    def _spans(self, ts: IntArray, events_after_ms: int, history: bool) -> Iterator[Batch]:
        points = max(1, self.batch_samples // self.series_count)
        previous = events_after_ms
        for lo in range(0, len(ts), points):
            span = ts[lo : lo + points]
            batch = samples_batch(self.signals.generate(span), span)
            batch.history = history
            yield batch
            last = int(span[-1])
            for events in events_batches(self.events.between(previous, last), self.max_events):
                events.history = history
                yield events
            previous = last


@dataclass(slots=True)
class EncodeStats:
    """Filled in by ``encoded_batches`` as it goes."""

    agents: int = 0
    batches: int = 0
    samples: int = 0
    events: int = 0
    bytes: int = 0
    epochs: dict[str, str] = field(default_factory=dict)  # agent_id -> spool epoch


def encoded_batches(
    *,
    agents: int = 1000,
    customers: int = 10,
    seed: int = 1,
    schedule: HistorySchedule | None = None,
    end: datetime | None = None,
    epoch: str | None = None,
    batch_samples: int = 20_000,
    trouble: TroubleSpec | None = None,
    stats: EncodeStats | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Pre-encoded ``AgentMessage`` bytes of a whole fleet's history, for ingest benchmarks.

    Agent by agent: first its Hello, then its Samples/Events batches with seqs 1, 2, 3… Each agent's
    spool epoch is ``epoch`` (default: a fresh random id per call, so repeated runs against one store
    are not dropped as duplicates). No trouble is injected unless ``trouble`` says so. ``stats`` is
    updated as batches are produced.
    """
    schedule = schedule or HistorySchedule(history=timedelta(hours=6), step=timedelta(minutes=1),
                                           coarse_step=timedelta(minutes=1))
    fleet: Fleet = build_fleet(FleetSpec(agents=agents, customers=customers, seed=seed))
    end_ms = schedule.end_of(end or datetime.now(UTC))
    plan = plan_troubles(fleet, trouble if trouble is not None else TroubleSpec.none(),
                         datetime.fromtimestamp(end_ms / 1000, tz=UTC))
    run_epoch = epoch or uuid.uuid4().hex
    for host in fleet.hosts:
        feed = HostFeed(host, plan.for_host(host.index), end_ms, batch_samples)
        if stats is not None:
            stats.agents += 1
            stats.epochs[host.agent_id] = run_epoch
        yield host.agent_id, feed.hello(run_epoch).SerializeToString()
        for seq, batch in enumerate(feed.history(schedule), start=1):
            data = batch.seal(seq)
            if stats is not None:
                stats.batches += 1
                stats.samples += batch.samples
                stats.events += batch.events
                stats.bytes += len(data)
            yield host.agent_id, data
