"""The collector's store as the inspection engine's data source (:class:`inspections.InspectionData`).

Rollups come from one tier per window: the finest tier that still holds the window start and gives
at most :data:`MAX_BUCKETS` buckets per series (a daily run reads 1-minute buckets, a monthly run
hourly ones). The engine announces each chunk of hosts with :meth:`StoreData.prefetch`; the series
of the chunk are then read in bulk — one query for the series ids, one for the latest values, one
for the event counts, and per slice of hosts whose buckets fit :data:`ROW_BUDGET` rows one rollup
query (plus one for availability), so memory stays bounded however large the fleet or window. Calls outside
the announced chunk and window fall back to per-host queries.

``host.up`` is not a stored series yet. Until the collector records it, availability is derived
per hour from how many samples the host delivered (see :func:`derive_availability`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Engine, and_, func, select

from collector.store.queries import pick_tier
from collector.store.rollup import TIERS, Tier
from collector.store.schema import events, hosts, latest, series
from inspections import EventRecord, HostInfo, LatestValue, RollupColumns, SeriesRollup
from inspections.data import from_epoch, to_epoch

HOST_UP = "host.up"
BOOT_TIME = "system.boot_time_seconds"
# Series every agent samples at a fixed interval, in order of preference; their sample counts per
# hour stand in for the heartbeat until ``host.up`` is stored.
HEARTBEAT_SERIES = ("cpu.busy_percent", "mem.available_percent", "load.load1", "agent.cpu_percent")
MAX_BUCKETS = 1500
ROW_BUDGET = 400_000
# Buckets that ended less than this long ago may still be missing samples in flight (agent batches,
# spool replays, the ingest flush), so availability does not judge them yet.
INGEST_LAG_S = 300
# An hour next to an outage with at least this share of the steady hours' sample count counts as fully
# up: sampling jitter and batch boundaries move a sample or two between hours; an outage takes many.
FULL_HOUR = 0.9
_IN_CHUNK = 900  # ids per IN (...) list; well under every database's parameter limit

Clock = Callable[[], float]


def tier_for_window(since_s: float, until_s: float, now_s: float, retention_s: dict[str, float]) -> Tier:
    """The finest tier that holds ``since`` and gives at most :data:`MAX_BUCKETS` per series."""
    step = max(1.0, (until_s - since_s) / MAX_BUCKETS)
    tier = pick_tier(since_s, step, now_s, retention_s)
    for candidate in TIERS[TIERS.index(tier):]:
        if candidate.width_s >= step:
            return candidate
    return TIERS[-1]


def _labels(text: str) -> dict[str, str]:
    return dict(json.loads(text)) if text and text != "[]" else {}


def _ms_dt(ms: int | None) -> datetime | None:
    return from_epoch(ms / 1000) if ms else None


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _heartbeat_of(unlabelled: dict[str, int]) -> int | None:
    """The series id of the preferred heartbeat series among a host's unlabelled series (name -> id)."""
    return next((unlabelled[n] for n in HEARTBEAT_SERIES if n in unlabelled), None)


def _columns(rows: np.ndarray) -> RollupColumns:
    """Rows of (series_id, bucket, min, max, sum, count, last) of one series as columns."""
    counts = rows[:, 5]
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(counts > 0, rows[:, 4] / counts, np.nan)
    return RollupColumns(rows[:, 1], rows[:, 2], rows[:, 3], avg, rows[:, 6], counts.astype(np.int64))


def derive_availability(
    buckets: np.ndarray,
    counts: np.ndarray,
    since_s: float,
    until_s: float,
    now_s: float,
    first_seen_s: float | None,
) -> RollupColumns | None:
    """``host.up`` per hour from a heartbeat series' hourly sample counts.

    An hour without a single sample is down (0); an hour with samples is up (1), except where an
    outage starts or ends inside it — an hour next to a down hour — which is up in proportion to its
    sample count against the steady hours around it (the 90th percentile of the hours within a day
    that have no down neighbour). Comparing only around outages keeps a change of the agent's
    sampling interval, or a backfill at another resolution, from looking like downtime. An outage
    that neither covers a whole clock hour nor touches one does not show: the resolution is an hour.

    Hours start at the later of the window start and the host's first data (or first contact), so
    an agent installed mid-window is not blamed for the weeks before; the hour it started in counts
    as up. Hours that ended less than :data:`INGEST_LAG_S` ago are not judged yet. Every bucket has
    weight 1, so the window average is the share of hours up.
    """
    width = TIERS[-1].width_s
    start = math.ceil(since_s / width) * width
    end = min(until_s, now_s - INGEST_LAG_S)
    last = math.floor((end - width) / width) * width
    beginnings = [b for b in (first_seen_s, float(buckets[0]) if len(buckets) else None) if b is not None]
    if not beginnings or last < start:
        return None
    begin = math.floor(min(beginnings) / width) * width
    grid = np.arange(max(start, begin), last + 1, width, dtype=np.float64)
    if not len(grid):
        return None
    keep = (buckets >= grid[0]) & (buckets <= grid[-1])
    index = np.searchsorted(grid, buckets[keep].astype(np.float64))
    n = len(grid)
    seen = np.zeros(n)
    seen[index] = 1.0
    count = np.zeros(n)
    count[index] = counts[keep]
    present = seen > 0
    # Neighbours outside the grid are unknown (before the window) or not judged yet: not down.
    down_before = np.concatenate(([False], ~present[:-1]))
    down_after = np.concatenate((~present[1:], [False]))
    edge = present & (down_before | down_after) & (grid != begin)
    steady = present & ~edge
    up = seen.copy()
    for i in np.flatnonzero(edge):
        lo, hi = max(0, i - 24), min(n, i + 25)
        pool = count[lo:hi][steady[lo:hi]]
        if not len(pool):
            pool = count[present]
        usual = float(np.percentile(pool, 90, method="higher"))
        if usual > 0 and count[i] < FULL_HOUR * usual:
            up[i] = count[i] / usual
    minimum = np.where(up >= 1.0, 1.0, 0.0)
    return RollupColumns(grid, minimum, seen, up, seen, np.ones(n, dtype=np.int64))


class StoreData:
    """:class:`inspections.InspectionData` and :class:`inspections.PrefetchingData` over the store.

    One instance serves one inspection run (it caches one chunk of hosts at a time); it is not
    shared between threads.
    """

    def __init__(self, engine: Engine, retention_s: dict[str, float], clock: Clock = time.time,
                 row_budget: int = ROW_BUDGET) -> None:
        self.engine = engine
        self.retention_s = retention_s
        self.now_s = clock()
        self.row_budget = row_budget
        self.queries = 0
        self._window: tuple[float, float] | None = None
        self._tier: Tier = TIERS[-1]
        self._rollup_names: frozenset[str] = frozenset()
        self._latest_names: frozenset[str] = frozenset()
        self._chunk: list[str] = []
        self._position: dict[str, int] = {}
        self._series: dict[str, list[tuple[int, str, str]]] = {}  # host -> (series id, name, labels json)
        self._heartbeat: dict[str, int] = {}  # host -> series id of its heartbeat series
        self._first_seen: dict[str, float | None] = {}
        self._latest: dict[tuple[str, str], list[LatestValue]] = {}
        self._event_counts: dict[str, dict[str, int]] = {}
        self._loaded: set[str] = set()
        self._rollups: dict[tuple[str, str], list[SeriesRollup]] = {}

    # -- PrefetchingData -----------------------------------------------------------------------

    def prefetch(self, host_ids: Sequence[str], rollup_names: Sequence[str], latest_names: Sequence[str],
                 since: datetime, until: datetime) -> None:
        since_s, until_s = to_epoch(since), to_epoch(until)
        self._window = (since_s, until_s)
        self._tier = tier_for_window(since_s, until_s, self.now_s, self.retention_s)
        self._rollup_names = frozenset(rollup_names)
        self._latest_names = frozenset(latest_names)
        self._chunk = list(dict.fromkeys(host_ids))
        self._position = {h: i for i, h in enumerate(self._chunk)}
        self._loaded.clear()
        self._rollups.clear()
        names = sorted(self._rollup_names | set(HEARTBEAT_SERIES))
        self._series = {h: [] for h in self._chunk}
        self._heartbeat = {}
        with self.engine.connect() as conn:
            found: dict[str, dict[str, int]] = {}
            for hosts_part in _chunks(self._chunk, 400):
                self.queries += 1
                rows = conn.execute(select(series.c.id, series.c.host_id, series.c.name, series.c.labels)
                                    .where(series.c.host_id.in_(hosts_part), series.c.name.in_(names)))
                for sid, host_id, name, labels in rows:
                    if name in self._rollup_names:
                        self._series[host_id].append((sid, name, labels))
                    if name in HEARTBEAT_SERIES and labels == "[]":
                        found.setdefault(host_id, {})[name] = sid
            for host_id, candidates in found.items():
                ref = _heartbeat_of(candidates)
                if ref is not None:
                    self._heartbeat[host_id] = ref
            self._first_seen = self._first_seen_of(conn, self._chunk)
            self._latest = self._query_latest(conn, self._chunk, sorted(self._latest_names))
            self._event_counts = self._query_event_counts(conn, self._chunk, since_s, until_s)

    # -- InspectionData ------------------------------------------------------------------------

    def rollups(self, host_id: str, name: str, since: datetime, until: datetime) -> list[SeriesRollup]:
        since_s, until_s = to_epoch(since), to_epoch(until)
        if (since_s, until_s) == self._window and host_id in self._position and name in self._rollup_names:
            if host_id not in self._loaded:
                self._load_from(host_id)
            return list(self._rollups.get((host_id, name), []))
        return self._rollups_direct(host_id, name, since_s, until_s)

    def latest(self, host_id: str, name: str) -> list[LatestValue]:
        if host_id in self._position and name in self._latest_names:
            return list(self._latest.get((host_id, name), []))
        with self.engine.connect() as conn:
            return self._query_latest(conn, [host_id], [name]).get((host_id, name), [])

    def event_counts(self, host_id: str, since: datetime, until: datetime) -> dict[str, int]:
        since_s, until_s = to_epoch(since), to_epoch(until)
        if (since_s, until_s) == self._window and host_id in self._position:
            return dict(self._event_counts.get(host_id, {}))
        with self.engine.connect() as conn:
            return self._query_event_counts(conn, [host_id], since_s, until_s).get(host_id, {})

    def events(self, host_id: str, since: datetime, until: datetime, rules: list[str] | None, limit: int,
               severities: list[str] | None = None) -> list[EventRecord]:
        lo, hi = math.ceil(to_epoch(since) * 1000), math.ceil(to_epoch(until) * 1000)
        q = (select(events.c.ts_ms, events.c.rule, events.c.severity, events.c.source, events.c.line,
                    events.c.fields, events.c.suppressed_before)
             .where(events.c.host_id == host_id, events.c.ts_ms >= lo, events.c.ts_ms < hi)
             .order_by(events.c.ts_ms, events.c.id).limit(max(0, limit)))
        if rules is not None:
            q = q.where(events.c.rule.in_(rules))
        if severities is not None:
            q = q.where(events.c.severity.in_(severities))
        self.queries += 1
        with self.engine.connect() as conn:
            return [EventRecord(ts=from_epoch(r.ts_ms / 1000), rule=r.rule, severity=r.severity, source=r.source,
                                line=r.line, fields={str(k): str(v) for k, v in (r.fields or {}).items()},
                                suppressed_before=int(r.suppressed_before or 0))
                    for r in conn.execute(q)]

    # -- bulk loading --------------------------------------------------------------------------

    def _load_from(self, host_id: str) -> None:
        """Load the rollups of ``host_id`` and the following hosts of the chunk within the budget.

        The engine walks the chunk in order, so the previous slice is finished with and dropped.
        """
        assert self._window is not None
        since_s, until_s = self._window
        per_series = max(1, int((until_s - since_s) // self._tier.width_s) + 1)
        hours = max(1, int((until_s - since_s) // TIERS[-1].width_s) + 1)
        selected: list[str] = []
        rows = 0
        for candidate in self._chunk[self._position[host_id]:]:
            cost = len(self._series[candidate]) * per_series + hours
            if selected and rows + cost > self.row_budget:
                break
            selected.append(candidate)
            rows += cost
        self._loaded = set(selected)
        self._rollups = {}
        keys = {sid: (host, name, labels) for host in selected for sid, name, labels in self._series[host]}
        with self.engine.connect() as conn:
            for sid, data in self._query_rollups(conn, self._tier, sorted(keys), since_s, until_s):
                host, name, labels = keys[sid]
                self._rollups.setdefault((host, name), []).append(SeriesRollup(name, _labels(labels), data))
            if HOST_UP in self._rollup_names:
                refs = {self._heartbeat[h]: h for h in selected
                        if h in self._heartbeat and (h, HOST_UP) not in self._rollups}
                for host, derived in self._derive_host_up(conn, refs, self._first_seen, since_s, until_s).items():
                    self._rollups[(host, HOST_UP)] = [derived]

    def _derive_host_up(self, conn: Any, refs: dict[int, str], first_seen: dict[str, float | None],
                        since_s: float, until_s: float) -> dict[str, SeriesRollup]:
        """``host.up`` of hosts from their heartbeat series (series id -> host id), hourly buckets."""
        counts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for sid, data in self._query_rollups(conn, TIERS[-1], sorted(refs), since_s, until_s):
            counts[refs[sid]] = (data.ts, data.counts)
        empty = np.zeros(0)
        out = {}
        for host_id in refs.values():
            buckets, n = counts.get(host_id, (empty, empty))
            derived = derive_availability(buckets, n, since_s, until_s, self.now_s, first_seen.get(host_id))
            if derived is not None:
                out[host_id] = SeriesRollup(HOST_UP, {}, derived)
        return out

    def _query_rollups(self, conn: Any, tier: Tier, series_ids: Sequence[int], since_s: float,
                       until_s: float) -> Iterable[tuple[int, RollupColumns]]:
        t = tier.table
        lo, hi = math.ceil(since_s), math.ceil(until_s)
        for part in _chunks(series_ids):
            self.queries += 1
            result = conn.execute(
                select(t.c.series_id, t.c.bucket, t.c.min, t.c.max, t.c.sum, t.c.count, t.c.last)
                .where(t.c.series_id.in_(part), t.c.bucket >= lo, t.c.bucket < hi)
                .order_by(t.c.series_id, t.c.bucket))
            # Plain numbers straight from the driver's cursor: SQLAlchemy's Row objects would cost more
            # than the database does for the hundreds of thousands of buckets of a monthly run.
            cursor = getattr(result, "cursor", None)
            raw = cursor.fetchall() if cursor is not None else result.all()
            result.close()
            if not raw:
                continue
            # fromiter over the flattened rows: np.array() on a list of rows is 50x slower.
            table = np.fromiter(chain.from_iterable(raw), dtype=np.float64, count=len(raw) * 7).reshape(-1, 7)
            cuts = np.flatnonzero(np.diff(table[:, 0])) + 1
            for block in np.split(table, cuts):
                yield int(block[0, 0]), _columns(block)

    def _rollups_direct(self, host_id: str, name: str, since_s: float, until_s: float) -> list[SeriesRollup]:
        tier = tier_for_window(since_s, until_s, self.now_s, self.retention_s)
        with self.engine.connect() as conn:
            self.queries += 1
            found = conn.execute(select(series.c.id, series.c.name, series.c.labels)
                                 .where(series.c.host_id == host_id,
                                        series.c.name.in_([name, *HEARTBEAT_SERIES]))).all()
            keys = {sid: labels for sid, n, labels in found if n == name}
            out = [SeriesRollup(name, _labels(keys[sid]), data)
                   for sid, data in self._query_rollups(conn, tier, sorted(keys), since_s, until_s)]
            if name != HOST_UP or out:
                return out
            ref = _heartbeat_of({n: sid for sid, n, labels in found if labels == "[]"})
            if ref is None:
                return []
            derived = self._derive_host_up(conn, {ref: host_id}, self._first_seen_of(conn, [host_id]),
                                           since_s, until_s)
        return [derived[host_id]] if host_id in derived else []

    def _first_seen_of(self, conn: Any, host_ids: Sequence[str]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for part in _chunks(host_ids):
            self.queries += 1
            for host_id, ms in conn.execute(select(hosts.c.id, hosts.c.first_seen_ms).where(hosts.c.id.in_(part))):
                out[host_id] = ms / 1000 if ms else None
        return out

    def _query_latest(self, conn: Any, host_ids: Sequence[str],
                      names: Sequence[str]) -> dict[tuple[str, str], list[LatestValue]]:
        out: dict[tuple[str, str], list[LatestValue]] = {}
        if not names:
            return out
        for part in _chunks(host_ids):
            self.queries += 1
            rows = conn.execute(
                select(series.c.host_id, series.c.name, series.c.labels, latest.c.ts_ms, latest.c.value)
                .join(latest, latest.c.series_id == series.c.id)
                .where(series.c.host_id.in_(part), series.c.name.in_(names)))
            for host_id, name, labels, ts_ms, value in rows:
                out.setdefault((host_id, name), []).append(
                    LatestValue(name, _labels(labels), from_epoch(ts_ms / 1000), float(value)))
        return out

    def _query_event_counts(self, conn: Any, host_ids: Sequence[str], since_s: float,
                            until_s: float) -> dict[str, dict[str, int]]:
        lo, hi = math.ceil(since_s * 1000), math.ceil(until_s * 1000)
        out: dict[str, dict[str, int]] = {}
        for part in _chunks(host_ids):
            self.queries += 1
            rows = conn.execute(
                select(events.c.host_id, events.c.rule, func.sum(1 + events.c.suppressed_before))
                .where(and_(events.c.host_id.in_(part), events.c.ts_ms >= lo, events.c.ts_ms < hi))
                .group_by(events.c.host_id, events.c.rule))
            for host_id, rule, total in rows:
                out.setdefault(host_id, {})[rule] = int(total)
        return out


# -- hosts ---------------------------------------------------------------------------------------


class UnknownHosts(LookupError):
    """Some requested hosts are not hosts of the customer; ``missing`` lists them."""

    def __init__(self, customer_id: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(f"customer {customer_id!r} has no host(s) {', '.join(repr(m) for m in missing)}: "
                         "use host ids or hostnames from 'patrol hosts --customer " + customer_id + "'")


def _boot_time(facts: dict[str, Any]) -> datetime | None:
    # Facts travel through protobuf's JSON mapping, which writes 64-bit integers as strings.
    raw = facts.get("boot_time_ms")
    try:
        ms = int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return None
    return from_epoch(ms / 1000) if ms > 0 else None


def load_hosts(engine: Engine, customer_id: str, refs: Sequence[str] | None = None) -> list[HostInfo]:
    """The customer's hosts as :class:`HostInfo`, ordered by hostname; ``refs`` picks some by id or
    hostname (raises :class:`UnknownHosts` naming those that are not the customer's)."""
    with engine.connect() as conn:
        rows = conn.execute(select(hosts.c.id, hosts.c.hostname, hosts.c.customer_id, hosts.c.last_seen_ms,
                                   hosts.c.facts, hosts.c.labels)
                            .where(hosts.c.customer_id == customer_id)
                            .order_by(hosts.c.hostname, hosts.c.id)).all()
        if refs:
            wanted = list(dict.fromkeys(refs))
            chosen = [r for r in rows if r.id in wanted or r.hostname in wanted]
            known = {r.id for r in chosen} | {r.hostname for r in chosen}
            missing = [ref for ref in wanted if ref not in known]
            if missing:
                raise UnknownHosts(customer_id, missing)
            rows = chosen
        boots: dict[str, float] = {}
        ids = [r.id for r in rows]
        for part in _chunks(ids):
            for host_id, value in conn.execute(
                    select(series.c.host_id, latest.c.value).join(latest, latest.c.series_id == series.c.id)
                    .where(series.c.host_id.in_(part), series.c.name == BOOT_TIME)):
                if value and value > 0:
                    boots[host_id] = max(boots.get(host_id, 0.0), float(value))
    out = []
    for r in rows:
        facts = dict(r.facts or {})
        boot = _boot_time(facts)
        if boot is None and r.id in boots:
            boot = from_epoch(boots[r.id])
        out.append(HostInfo(host_id=r.id, hostname=r.hostname, customer_id=r.customer_id,
                            last_seen=_ms_dt(r.last_seen_ms), facts=facts,
                            labels={str(k): str(v) for k, v in (r.labels or {}).items()}, boot_time=boot))
    return out
