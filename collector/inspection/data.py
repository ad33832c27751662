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
from typing import Any

import numpy as np
from sqlalchemy import Engine, Text, and_, bindparam, case, cast, func, select

from collector.store.read import (
    Rollups,
    SeriesRef,
    chunks,
    decode_labels,
    find_series,
    from_ms,
    from_seconds,
    read_rollups,
    tier_for_window,
    to_seconds,
)
from collector.store.read.columnar import HOST_CHUNK, IN_CHUNK, driver_rows
from collector.store.read.tiers import TIERS, Tier
from collector.store.schema import events, hosts, latest, series
from inspections import EventRecord, EventStamps, HostInfo, LatestValue, RollupColumns, SeriesRollup

HOST_UP = "host.up"
BOOT_TIME = "system.boot_time_seconds"
# Series every agent samples at a fixed interval, in order of preference; their sample counts per
# hour stand in for the heartbeat until ``host.up`` is stored.
HEARTBEAT_SERIES = ("cpu.busy_percent", "mem.available_percent", "load.load1", "agent.cpu_percent")
MAX_BUCKETS = 1500
ROW_BUDGET = 400_000  # buckets per bulk slice: memory stays bounded however large the fleet
# Buckets that ended less than this long ago may still be missing samples in flight (agent batches,
# spool replays, the ingest flush), so availability does not judge them yet.
INGEST_LAG_S = 300
# An hour next to an outage with at least this share of the steady hours' sample count counts as fully
# up: sampling jitter and batch boundaries move a sample or two between hours; an outage takes many.
FULL_HOUR = 0.9

Clock = Callable[[], float]


def _events_fields(texts: Sequence[str | None]) -> list[dict[str, str]]:
    """The fields of many events: the non-empty ones parsed as one JSON array, since a month of logs
    is hundreds of thousands of small documents and a ``json.loads`` call per document costs more
    than its parsing."""
    out: list[dict[str, str]] = [{} for _ in texts]
    at = [i for i, text in enumerate(texts) if text and text not in ("{}", "null")]
    if not at:
        return out
    try:
        docs = json.loads("[" + ",".join(texts[i] for i in at) + "]")  # type: ignore[misc]
    except ValueError:  # one bad document: parse one by one, so the error names it
        docs = [json.loads(texts[i]) for i in at]  # type: ignore[arg-type]
    for i, doc in zip(at, docs, strict=True):
        # Ingest writes the fields from the protocol's map<string, string>, so JSON gives back
        # strings; anything else (a row written by hand) is made one.
        out[i] = doc if all(type(v) is str for v in doc.values()) else {str(k): str(v) for k, v in doc.items()}
    return out


# An event as the burst checks read it: time (ms), rule (its position in the asked-for list), weight.
_STAMP = np.dtype([("ts_ms", "<i8"), ("rule", "<i8"), ("weight", "<i8")])


def _stamps_statement(rules: list[str], severities: list[str] | None) -> Any:
    """Times, rule positions and weights of one host's events of ``rules`` in ``[lo, hi)``, oldest
    first, at most ``limit``; host, window and limit are bound at execution."""
    position = case({rule: i for i, rule in enumerate(rules)}, value=events.c.rule, else_=-1)
    q = (select(events.c.ts_ms, position, 1 + func.coalesce(events.c.suppressed_before, 0))
         .where(events.c.host_id == bindparam("host"), events.c.ts_ms >= bindparam("lo"),
                events.c.ts_ms < bindparam("hi"), events.c.rule.in_(rules))
         .order_by(events.c.ts_ms, events.c.id).limit(bindparam("limit")))
    if severities is not None:
        q = q.where(events.c.severity.in_(severities))
    return q


def _heartbeat_of(unlabelled: dict[str, int]) -> int | None:
    """The series id of the preferred heartbeat series among a host's unlabelled series (name -> id)."""
    return next((unlabelled[n] for n in HEARTBEAT_SERIES if n in unlabelled), None)


def _columns(data: Rollups) -> RollupColumns:
    return RollupColumns(data.ts, data.min, data.max, data.avg, data.last, data.count)


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
        self._stamp_statements: dict[tuple[tuple[str, ...], tuple[str, ...] | None], Any] = {}
        self._window: tuple[float, float] | None = None
        self._tier: Tier = TIERS[-1]
        self._rollup_names: frozenset[str] = frozenset()
        self._latest_names: frozenset[str] = frozenset()
        self._chunk: list[str] = []
        self._position: dict[str, int] = {}
        self._series: dict[str, list[SeriesRef]] = {}  # host -> its series of the rollup names
        self._heartbeat: dict[str, int] = {}  # host -> series id of its heartbeat series
        self._first_seen: dict[str, float | None] = {}
        self._latest: dict[tuple[str, str], list[LatestValue]] = {}
        self._event_counts: dict[str, dict[tuple[str, str], int]] = {}
        self._loaded: set[str] = set()
        self._rollups: dict[tuple[str, str], list[SeriesRollup]] = {}

    # -- PrefetchingData -----------------------------------------------------------------------

    def prefetch(self, host_ids: Sequence[str], rollup_names: Sequence[str], latest_names: Sequence[str],
                 since: datetime, until: datetime) -> None:
        since_s, until_s = to_seconds(since), to_seconds(until)
        self._window = (since_s, until_s)
        self._tier = tier_for_window(since_s, until_s, self.now_s, self.retention_s, MAX_BUCKETS)
        self._rollup_names = frozenset(rollup_names)
        self._latest_names = frozenset(latest_names)
        self._chunk = list(dict.fromkeys(host_ids))
        self._position = {h: i for i, h in enumerate(self._chunk)}
        self._loaded.clear()
        self._rollups.clear()
        self._series = {h: [] for h in self._chunk}
        self._heartbeat = {}
        with self.engine.connect() as conn:
            found: dict[str, dict[str, int]] = {}
            self.queries += math.ceil(len(self._chunk) / HOST_CHUNK)
            for ref in find_series(conn, self._chunk, self._rollup_names | set(HEARTBEAT_SERIES)):
                if ref.name in self._rollup_names:
                    self._series[ref.host_id].append(ref)
                if ref.name in HEARTBEAT_SERIES and not ref.labels:
                    found.setdefault(ref.host_id, {})[ref.name] = ref.id
            for host_id, candidates in found.items():
                beat = _heartbeat_of(candidates)
                if beat is not None:
                    self._heartbeat[host_id] = beat
            self._first_seen = self._first_seen_of(conn, self._chunk)
            self._latest = self._query_latest(conn, self._chunk, sorted(self._latest_names))
            self._event_counts = self._query_event_counts(conn, self._chunk, since_s, until_s)

    # -- InspectionData ------------------------------------------------------------------------

    def rollups(self, host_id: str, name: str, since: datetime, until: datetime) -> list[SeriesRollup]:
        since_s, until_s = to_seconds(since), to_seconds(until)
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

    def event_counts(self, host_id: str, since: datetime, until: datetime,
                     severities: list[str] | None = None) -> dict[str, int]:
        since_s, until_s = to_seconds(since), to_seconds(until)
        if (since_s, until_s) == self._window and host_id in self._position:
            by_severity = self._event_counts.get(host_id, {})
        else:
            with self.engine.connect() as conn:
                by_severity = self._query_event_counts(conn, [host_id], since_s, until_s).get(host_id, {})
        out: dict[str, int] = {}
        for (rule, severity), n in by_severity.items():
            if severities is None or severity in severities:
                out[rule] = out.get(rule, 0) + n
        return out

    def _events_query(self, columns: Sequence[Any], host_id: str, since: datetime, until: datetime,
                      rules: list[str] | None, limit: int, severities: list[str] | None) -> Sequence[Any]:
        """The rows of ``columns`` of the host's events in ``[since, until)``, oldest first, at most ``limit``."""
        lo, hi = math.ceil(to_seconds(since) * 1000), math.ceil(to_seconds(until) * 1000)
        q = (select(*columns).where(events.c.host_id == host_id, events.c.ts_ms >= lo, events.c.ts_ms < hi)
             .order_by(events.c.ts_ms, events.c.id).limit(max(0, limit)))
        if rules is not None:
            q = q.where(events.c.rule.in_(rules))
        if severities is not None:
            q = q.where(events.c.severity.in_(severities))
        self.queries += 1
        with self.engine.connect() as conn:
            return driver_rows(conn.execute(q))

    def events(self, host_id: str, since: datetime, until: datetime, rules: list[str] | None, limit: int,
               severities: list[str] | None = None) -> list[EventRecord]:
        # The fields as JSON text on every backend (PostgreSQL's driver would decode JSONB itself),
        # decoded here only where there are any: the rows of a month of logs are many.
        rows = self._events_query((events.c.ts_ms, events.c.rule, events.c.severity, events.c.source, events.c.line,
                                   cast(events.c.fields, Text), events.c.suppressed_before),
                                  host_id, since, until, rules, limit, severities)
        fields = _events_fields([r[5] for r in rows])
        return [EventRecord(ts=from_seconds(ts_ms / 1000), rule=rule, severity=severity, source=source, line=line,
                            fields=doc, suppressed_before=int(suppressed or 0))
                for (ts_ms, rule, severity, source, line, _, suppressed), doc in zip(rows, fields, strict=True)]

    def event_stamps(self, host_id: str, since: datetime, until: datetime, rules: list[str] | None, limit: int,
                     severities: list[str] | None = None) -> EventStamps:
        """Only the time, rule and weight of each event: no line, fields or objects per event.

        The statement is built once per rule and severity filter and returns integers only (the rule
        as its position in ``rules``), so the rows go into one structured array in C: a month of
        failed logins is hundreds of thousands of rows per fleet chunk."""
        if rules is None:  # every rule: their names come back as text
            rows = self._events_query((events.c.ts_ms, events.c.rule, events.c.suppressed_before),
                                      host_id, since, until, rules, limit, severities)
            table = np.fromiter(((ts, 0, 1 + (w or 0)) for ts, _, w in rows), dtype=_STAMP, count=len(rows))
            found = tuple(sorted({r[1] for r in rows}))
        else:
            wanted = sorted(set(rules))
            key = (tuple(wanted), tuple(severities) if severities is not None else None)
            statement = self._stamp_statements.get(key)
            if statement is None:
                statement = self._stamp_statements[key] = _stamps_statement(wanted, severities)
            lo, hi = math.ceil(to_seconds(since) * 1000), math.ceil(to_seconds(until) * 1000)
            self.queries += 1
            with self.engine.connect() as conn:
                rows = driver_rows(conn.execute(statement, {"host": host_id, "lo": lo, "hi": hi,
                                                            "limit": max(0, limit)}))
            table = np.fromiter(rows, dtype=_STAMP, count=len(rows))
            found = tuple(wanted[i] for i in np.unique(table["rule"]))
        return EventStamps(table["ts_ms"] / 1000.0, table["weight"], found)

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
        refs = {ref.id: ref for host in selected for ref in self._series[host]}
        # A heartbeat series read at hourly resolution anyway need not be read again for host.up.
        hourly: dict[int, Rollups] = {}
        keep_hourly = self._tier is TIERS[-1] and HOST_UP in self._rollup_names
        heartbeats = {self._heartbeat[h] for h in selected if h in self._heartbeat} if keep_hourly else set()
        with self.engine.connect() as conn:
            for sid, data in self._read(conn, self._tier, refs, since_s, until_s):
                ref = refs[sid]
                self._rollups.setdefault((ref.host_id, ref.name), []).append(
                    SeriesRollup(ref.name, ref.labels, _columns(data)))
                if sid in heartbeats:
                    hourly[sid] = data
            if HOST_UP in self._rollup_names:
                beats = {self._heartbeat[h]: h for h in selected
                         if h in self._heartbeat and (h, HOST_UP) not in self._rollups}
                derived = self._derive_host_up(conn, beats, self._first_seen, since_s, until_s, hourly)
                for host, up in derived.items():
                    self._rollups[(host, HOST_UP)] = [up]

    def _derive_host_up(self, conn: Any, refs: dict[int, str], first_seen: dict[str, float | None],
                        since_s: float, until_s: float,
                        hourly: dict[int, Rollups] | None = None) -> dict[str, SeriesRollup]:
        """``host.up`` of hosts from their heartbeat series (series id -> host id), hourly buckets;
        ``hourly`` holds heartbeat buckets already read from the hourly tier for this window."""
        known = hourly or {}
        counts: dict[str, tuple[np.ndarray, np.ndarray]] = {
            host: (known[sid].ts, known[sid].count) for sid, host in refs.items() if sid in known}
        missing = [sid for sid in refs if sid not in known]
        for sid, data in self._read(conn, TIERS[-1], missing, since_s, until_s) if missing else ():
            counts[refs[sid]] = (data.ts, data.count)
        empty = np.zeros(0)
        out = {}
        for host_id in refs.values():
            buckets, n = counts.get(host_id, (empty, empty))
            derived = derive_availability(buckets, n, since_s, until_s, self.now_s, first_seen.get(host_id))
            if derived is not None:
                out[host_id] = SeriesRollup(HOST_UP, {}, derived)
        return out

    def _read(self, conn: Any, tier: Tier, series_ids: Iterable[int], since_s: float,
              until_s: float) -> Iterable[tuple[int, Rollups]]:
        ids = sorted(series_ids)
        self.queries += math.ceil(len(ids) / IN_CHUNK)
        return read_rollups(conn, tier, ids, since_s, until_s)

    def _rollups_direct(self, host_id: str, name: str, since_s: float, until_s: float) -> list[SeriesRollup]:
        tier = tier_for_window(since_s, until_s, self.now_s, self.retention_s, MAX_BUCKETS)
        with self.engine.connect() as conn:
            self.queries += 1
            found = find_series(conn, [host_id], [name, *HEARTBEAT_SERIES])
            refs = {ref.id: ref for ref in found if ref.name == name}
            out = [SeriesRollup(name, refs[sid].labels, _columns(data))
                   for sid, data in self._read(conn, tier, refs, since_s, until_s)]
            if name != HOST_UP or out:
                return out
            ref = _heartbeat_of({r.name: r.id for r in found if not r.labels})
            if ref is None:
                return []
            derived = self._derive_host_up(conn, {ref: host_id}, self._first_seen_of(conn, [host_id]),
                                           since_s, until_s)
        return [derived[host_id]] if host_id in derived else []

    def _first_seen_of(self, conn: Any, host_ids: Sequence[str]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for part in chunks(host_ids):
            self.queries += 1
            for host_id, ms in conn.execute(select(hosts.c.id, hosts.c.first_seen_ms).where(hosts.c.id.in_(part))):
                out[host_id] = ms / 1000 if ms else None
        return out

    def _query_latest(self, conn: Any, host_ids: Sequence[str],
                      names: Sequence[str]) -> dict[tuple[str, str], list[LatestValue]]:
        out: dict[tuple[str, str], list[LatestValue]] = {}
        if not names:
            return out
        for part in chunks(host_ids):
            self.queries += 1
            rows = conn.execute(
                select(series.c.host_id, series.c.name, series.c.labels, latest.c.ts_ms, latest.c.value)
                .join(latest, latest.c.series_id == series.c.id)
                .where(series.c.host_id.in_(part), series.c.name.in_(names)))
            for host_id, name, labels, ts_ms, value in rows:
                out.setdefault((host_id, name), []).append(
                    LatestValue(name, decode_labels(labels), from_seconds(ts_ms / 1000), float(value)))
        return out

    def _query_event_counts(self, conn: Any, host_ids: Sequence[str], since_s: float,
                            until_s: float) -> dict[str, dict[tuple[str, str], int]]:
        """Per host, the events of each (rule, severity) in the window, with what the agent suppressed."""
        lo, hi = math.ceil(since_s * 1000), math.ceil(until_s * 1000)
        out: dict[str, dict[tuple[str, str], int]] = {}
        for part in chunks(host_ids):
            self.queries += 1
            rows = conn.execute(
                select(events.c.host_id, events.c.rule, events.c.severity, func.sum(1 + events.c.suppressed_before))
                .where(and_(events.c.host_id.in_(part), events.c.ts_ms >= lo, events.c.ts_ms < hi))
                .group_by(events.c.host_id, events.c.rule, events.c.severity))
            for host_id, rule, severity, total in rows:
                out.setdefault(host_id, {})[(rule, severity)] = int(total)
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
    return from_seconds(ms / 1000) if ms > 0 else None


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
        for part in chunks(ids):
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
            boot = from_seconds(boots[r.id])
        out.append(HostInfo(host_id=r.id, hostname=r.hostname, customer_id=r.customer_id,
                            last_seen=from_ms(r.last_seen_ms), facts=facts,
                            labels={str(k): str(v) for k, v in (r.labels or {}).items()}, boot_time=boot))
    return out
