"""The data an inspection reads, as a protocol, plus an in-memory implementation.

The collector implements :class:`InspectionData` over its SQL store; tests and benchmarks use
:class:`MemoryData`. The engine asks for each series *name* of a host once per run and shares the
answer between checks, so an implementation answers a handful of calls per host rather than one per
check and subject. An implementation that can do better still — one query for many hosts — also
implements :class:`PrefetchingData`; the engine then announces each chunk of hosts before it
evaluates them.

Rollup points travel as :class:`RollupColumns` where possible: a sequence of :class:`RollupPoint`
backed by numpy columns, so thirty days of hourly buckets for a thousand hosts stay compact and the
engine aggregates them without building one Python object per bucket.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, overload, runtime_checkable

import numpy as np
import numpy.typing as npt

RollupField = Literal["min", "max", "avg", "last"]
ROLLUP_FIELDS: tuple[RollupField, ...] = ("min", "max", "avg", "last")
EventSeverity = Literal["info", "warning", "error", "critical"]

FloatArray = npt.NDArray[np.floating]
LabelsKey = tuple[tuple[str, str], ...]


def labels_key(labels: dict[str, str] | None) -> LabelsKey:
    """Canonical, hashable form of a label set."""
    return tuple(sorted(labels.items())) if labels else ()


def to_epoch(ts: datetime) -> float:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()}: inspections need tz-aware UTC times")
    return ts.timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), tz=UTC)


@dataclass(frozen=True, slots=True)
class LatestValue:
    name: str
    labels: dict[str, str]
    ts: datetime
    value: float


@dataclass(frozen=True, slots=True)
class RollupPoint:
    """One rollup bucket; ``ts`` is the bucket start."""

    ts: datetime
    min: float
    max: float
    avg: float
    last: float
    count: int


class RollupColumns(Sequence[RollupPoint]):
    """Rollup buckets of one series as columns, sorted by bucket start (unix seconds).

    Slicing returns views, never copies; :meth:`between` cuts a time window by binary search.
    """

    # ``counts``, not ``count``: Sequence already has a ``count()`` method.
    __slots__ = ("avg", "counts", "last", "max", "min", "ts")

    def __init__(
        self,
        ts: npt.ArrayLike,
        min: npt.ArrayLike,
        max: npt.ArrayLike,
        avg: npt.ArrayLike,
        last: npt.ArrayLike,
        counts: npt.ArrayLike,
    ) -> None:
        self.ts = np.asarray(ts, dtype=np.float64)
        self.min: FloatArray = np.asarray(min)
        self.max: FloatArray = np.asarray(max)
        self.avg: FloatArray = np.asarray(avg)
        self.last: FloatArray = np.asarray(last)
        self.counts = np.asarray(counts)
        n = len(self.ts)
        for name in ("min", "max", "avg", "last", "counts"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"rollup column {name!r} has {len(getattr(self, name))} values, ts has {n}")

    @classmethod
    def from_points(cls, points: Iterable[RollupPoint]) -> RollupColumns:
        ordered = sorted(points, key=lambda p: p.ts)
        return cls(
            ts=np.array([to_epoch(p.ts) for p in ordered], dtype=np.float64),
            min=np.array([p.min for p in ordered], dtype=np.float64),
            max=np.array([p.max for p in ordered], dtype=np.float64),
            avg=np.array([p.avg for p in ordered], dtype=np.float64),
            last=np.array([p.last for p in ordered], dtype=np.float64),
            counts=np.array([p.count for p in ordered], dtype=np.int64),
        )

    @classmethod
    def of(cls, points: Sequence[RollupPoint]) -> RollupColumns:
        return points if isinstance(points, RollupColumns) else cls.from_points(points)

    def __len__(self) -> int:
        return len(self.ts)

    @overload
    def __getitem__(self, index: int) -> RollupPoint: ...

    @overload
    def __getitem__(self, index: slice) -> RollupColumns: ...

    def __getitem__(self, index: int | slice) -> RollupPoint | RollupColumns:
        if isinstance(index, slice):
            return RollupColumns(
                self.ts[index],
                self.min[index],
                self.max[index],
                self.avg[index],
                self.last[index],
                self.counts[index],
            )
        return RollupPoint(
            ts=from_epoch(self.ts[index]),
            min=float(self.min[index]),
            max=float(self.max[index]),
            avg=float(self.avg[index]),
            last=float(self.last[index]),
            count=int(self.counts[index]),
        )

    def __iter__(self) -> Iterator[RollupPoint]:
        for i in range(len(self)):
            yield self[i]

    def column(self, name: RollupField) -> FloatArray:
        return getattr(self, name)  # type: ignore[no-any-return]

    def between(self, since: datetime, until: datetime) -> RollupColumns:
        """Buckets starting in ``[since, until)``."""
        lo = int(np.searchsorted(self.ts, to_epoch(since), side="left"))
        hi = int(np.searchsorted(self.ts, to_epoch(until), side="left"))
        return self[lo:hi]

    def bucket_seconds(self) -> float | None:
        """The bucket width, inferred from the smallest gap (``None`` for fewer than two buckets)."""
        if len(self.ts) < 2:
            return None
        return float(np.min(np.diff(self.ts)))


@dataclass(slots=True)
class SeriesRollup:
    """The rollup buckets of one series in a window (the store picks the tier)."""

    name: str
    labels: dict[str, str]
    points: Sequence[RollupPoint]
    _columns: RollupColumns | None = field(default=None, init=False, repr=False, compare=False)

    def columns(self) -> RollupColumns:
        if self._columns is None:
            self._columns = RollupColumns.of(self.points)
        return self._columns


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One log-rule event. ``suppressed_before`` counts events of the same rule the agent dropped
    by rate limiting since the previous one it sent, so a count is ``1 + suppressed_before``."""

    ts: datetime
    rule: str
    severity: EventSeverity
    source: str = ""
    line: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    suppressed_before: int = 0

    @property
    def weight(self) -> int:
        return 1 + self.suppressed_before


@dataclass(frozen=True)
class EventStamps:
    """When events happened and how many each stands for, without their text: all that rates and
    bursts need, so a month of logs is read as two arrays instead of one object per event."""

    ts: npt.NDArray[np.float64]  # epoch seconds, oldest first
    weight: npt.NDArray[np.int64]  # 1 + suppressed_before
    rules: tuple[str, ...]  # the distinct rules among them, sorted

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def total(self) -> int:
        return int(self.weight.sum())

    @classmethod
    def of(cls, events: Sequence[EventRecord]) -> EventStamps:
        return cls(np.array([to_epoch(e.ts) for e in events], dtype=np.float64),
                   np.array([e.weight for e in events], dtype=np.int64), tuple(sorted({e.rule for e in events})))


@dataclass(frozen=True, slots=True)
class HostInfo:
    host_id: str
    hostname: str
    customer_id: str
    last_seen: datetime | None
    facts: dict[str, object] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    boot_time: datetime | None = None


@runtime_checkable
class InspectionData(Protocol):
    """What the engine reads. All times are tz-aware UTC; windows are ``[since, until)``."""

    def latest(self, host_id: str, name: str) -> list[LatestValue]:
        """The newest value of every series called ``name`` on the host (one per label set)."""
        ...

    def rollups(self, host_id: str, name: str, since: datetime, until: datetime) -> list[SeriesRollup]:
        """Every series called ``name`` on the host, with its buckets starting in the window."""
        ...

    def event_counts(
        self, host_id: str, since: datetime, until: datetime, severities: list[str] | None = None
    ) -> dict[str, int]:
        """Events per log-rule id in the window, each counting ``1 + suppressed_before``; only those
        of ``severities`` when given."""
        ...

    def events(
        self,
        host_id: str,
        since: datetime,
        until: datetime,
        rules: list[str] | None,
        limit: int,
        severities: list[str] | None = None,
    ) -> list[EventRecord]:
        """Events in the window, oldest first, at most ``limit``; ``None`` filters mean "all"."""
        ...

    def event_stamps(
        self,
        host_id: str,
        since: datetime,
        until: datetime,
        rules: list[str] | None,
        limit: int,
        severities: list[str] | None = None,
    ) -> EventStamps:
        """The same events as :meth:`events`, as times and weights only."""
        ...


@runtime_checkable
class PrefetchingData(Protocol):
    """Optional: load what the engine will ask for a chunk of hosts in a few bulk queries."""

    def prefetch(
        self,
        host_ids: Sequence[str],
        rollup_names: Sequence[str],
        latest_names: Sequence[str],
        since: datetime,
        until: datetime,
    ) -> None: ...


class MemoryData:
    """An in-memory :class:`InspectionData` for tests, benchmarks and the simulator."""

    def __init__(self) -> None:
        self._rollups: dict[tuple[str, str], dict[LabelsKey, RollupColumns]] = {}
        self._latest: dict[tuple[str, str], dict[LabelsKey, LatestValue]] = {}
        self._events: dict[str, list[EventRecord]] = {}
        self._event_ts: dict[str, list[float]] = {}
        self._unsorted: set[str] = set()

    # -- filling -------------------------------------------------------------------------------

    def add_rollup(
        self,
        host_id: str,
        name: str,
        labels: dict[str, str] | None,
        points: Sequence[RollupPoint],
    ) -> None:
        """Set the buckets of one series (replacing any earlier ones)."""
        self._rollups.setdefault((host_id, name), {})[labels_key(labels)] = RollupColumns.of(points)

    def add_latest(self, host_id: str, name: str, labels: dict[str, str] | None, ts: datetime, value: float) -> None:
        to_epoch(ts)  # rejects naive times early, where the mistake is made
        key = labels_key(labels)
        self._latest.setdefault((host_id, name), {})[key] = LatestValue(name, dict(key), ts, float(value))

    def add_event(self, host_id: str, event: EventRecord) -> None:
        to_epoch(event.ts)
        self._events.setdefault(host_id, []).append(event)
        self._unsorted.add(host_id)

    def add_events(self, host_id: str, events: Iterable[EventRecord]) -> None:
        for event in events:
            self.add_event(host_id, event)

    def record(
        self,
        host_id: str,
        name: str,
        labels: dict[str, str] | None,
        samples: Iterable[tuple[datetime, float]],
        bucket: timedelta = timedelta(hours=1),
    ) -> None:
        """Store raw samples of one series as rollup buckets and as its latest value."""
        width = bucket.total_seconds()
        acc: dict[float, list[float]] = {}
        newest: tuple[datetime, float] | None = None
        for ts, value in sorted(samples, key=lambda s: s[0]):
            start = to_epoch(ts) // width * width
            acc.setdefault(start, []).append(float(value))
            newest = (ts, float(value))
        points = [
            RollupPoint(from_epoch(start), min(vals), max(vals), sum(vals) / len(vals), vals[-1], len(vals))
            for start, vals in sorted(acc.items())
        ]
        self.add_rollup(host_id, name, labels, points)
        if newest is not None:
            self.add_latest(host_id, name, labels, newest[0], newest[1])

    # -- InspectionData ------------------------------------------------------------------------

    def latest(self, host_id: str, name: str) -> list[LatestValue]:
        return list(self._latest.get((host_id, name), {}).values())

    def rollups(self, host_id: str, name: str, since: datetime, until: datetime) -> list[SeriesRollup]:
        out = []
        for key, columns in self._rollups.get((host_id, name), {}).items():
            window = columns.between(since, until)
            if len(window):
                out.append(SeriesRollup(name, dict(key), window))
        return out

    def _window(self, host_id: str, since: datetime, until: datetime) -> list[EventRecord]:
        if host_id in self._unsorted:
            self._events[host_id].sort(key=lambda e: e.ts)
            self._event_ts[host_id] = [to_epoch(e.ts) for e in self._events[host_id]]
            self._unsorted.discard(host_id)
        stamps = self._event_ts.get(host_id, [])
        lo = bisect.bisect_left(stamps, to_epoch(since))
        hi = bisect.bisect_left(stamps, to_epoch(until))
        return self._events.get(host_id, [])[lo:hi]

    def event_counts(
        self, host_id: str, since: datetime, until: datetime, severities: list[str] | None = None
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self._window(host_id, since, until):
            if severities is None or event.severity in severities:
                counts[event.rule] = counts.get(event.rule, 0) + event.weight
        return counts

    def events(
        self,
        host_id: str,
        since: datetime,
        until: datetime,
        rules: list[str] | None,
        limit: int,
        severities: list[str] | None = None,
    ) -> list[EventRecord]:
        wanted_rules = set(rules) if rules is not None else None
        wanted_severities = set(severities) if severities is not None else None
        out: list[EventRecord] = []
        for event in self._window(host_id, since, until):
            if wanted_rules is not None and event.rule not in wanted_rules:
                continue
            if wanted_severities is not None and event.severity not in wanted_severities:
                continue
            out.append(event)
            if len(out) >= limit:
                break
        return out

    def event_stamps(
        self,
        host_id: str,
        since: datetime,
        until: datetime,
        rules: list[str] | None,
        limit: int,
        severities: list[str] | None = None,
    ) -> EventStamps:
        return EventStamps.of(self.events(host_id, since, until, rules, limit, severities))
