"""The fleet overview's data: every host with status, health score, key utilisations, a day of
sparkline points and its open tickets, problems first.

Hosts and their latest key values come from :func:`collector.store.queries.list_hosts`, the
sparklines from the hourly rollup tier through :mod:`collector.store.read`, health scores from each
host's latest completed inspection and ticket counts from the open tickets.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from markupsafe import Markup
from sqlalchemy import Connection, Engine, func, select

from collector.console.sparkline import sparkline
from collector.inspection.tables import inspection_hosts, inspection_runs
from collector.store import queries
from collector.store.read import find_series, pick_tier, read_series
from collector.tickets.tables import tickets

SPARK_METRICS = ("cpu.busy_percent", "mem.used_percent", "disk.used_percent")
SPARK_WINDOW_S = 24 * 3600
SPARK_STEP_S = 3600
PROBLEM_SCORE = 80  # a health score below this counts as a problem

log = logging.getLogger("patrol.console")


@dataclass
class FleetHost:
    id: str
    hostname: str
    customer_id: str
    customer_name: str
    status: str  # online | offline
    last_seen_ms: int | None
    labels: dict[str, str]
    key_values: dict[str, float]
    score: int | None = None
    inspection_status: str | None = None  # the worst finding of the latest inspection
    open_tickets: int = 0
    worst_severity: str | None = None  # L1…L4 of its most severe open ticket
    sparks: dict[str, Markup] = field(default_factory=dict)  # metric -> SVG of the last day

    @property
    def problem(self) -> bool:
        return (self.status != "online" or self.open_tickets > 0
                or (self.score is not None and self.score < PROBLEM_SCORE)
                or self.inspection_status == "critical")

    def urgency(self) -> tuple[int, int, int, str]:
        """Sort key: problems first, the most severe ticket first, then offline, then lowest score."""
        severity = int(self.worst_severity[1]) if self.worst_severity else 9
        return (0 if self.problem else 1, severity, 0 if self.status != "online" else 1,
                f"{self.score if self.score is not None else 100:03d}{self.customer_id}{self.hostname}")

    def matches(self, text: str) -> bool:
        needle = text.strip().lower()
        if not needle:
            return True
        hay = [self.hostname, self.id, self.customer_id, self.customer_name,
               *(f"{k}={v}" for k, v in self.labels.items())]
        return any(needle in h.lower() for h in hay)


def latest_scores(conn: Connection, host_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(score, worst status) of each host in its latest completed inspection run."""
    newest = (select(inspection_hosts.c.host_id, func.max(inspection_hosts.c.run_id).label("run_id"))
              .join(inspection_runs, inspection_runs.c.id == inspection_hosts.c.run_id)
              .where(inspection_runs.c.status == "completed")
              .group_by(inspection_hosts.c.host_id).subquery())
    q = (select(inspection_hosts.c.host_id, inspection_hosts.c.score, inspection_hosts.c.status)
         .join(newest, (newest.c.host_id == inspection_hosts.c.host_id)
               & (newest.c.run_id == inspection_hosts.c.run_id)))
    wanted = set(host_ids)
    return {h: (score, status) for h, score, status in conn.execute(q) if h in wanted}


def open_ticket_counts(conn: Connection) -> dict[str, tuple[int, str]]:
    """(open tickets, most severe level) per host."""
    q = (select(tickets.c.host_id, func.count(), func.min(tickets.c.severity))
         .where(tickets.c.open_fingerprint.is_not(None), tickets.c.host_id.is_not(None))
         .group_by(tickets.c.host_id))
    return {h: (int(n), str(sev)) for h, n, sev in conn.execute(q)}


def sparklines(conn: Connection, host_ids: Sequence[str], now_s: float, retention_s: Mapping[str, float],
               metrics: Sequence[str] = SPARK_METRICS) -> dict[str, dict[str, list[float | None]]]:
    """Hourly averages over the last day per host and metric (the highest of a host's series of one
    metric, e.g. its fullest disk, per hour)."""
    since = now_s - SPARK_WINDOW_S
    tier = pick_tier(since, SPARK_STEP_S, now_s, retention_s)
    start = int(since // SPARK_STEP_S) * SPARK_STEP_S
    slots = int((now_s - start) // SPARK_STEP_S) + 1
    grid: dict[tuple[str, str], np.ndarray] = {}
    refs = find_series(conn, host_ids, metrics)
    for ref, data in read_series(conn, tier, refs, start, now_s):
        if not len(data):
            continue
        merged = data if tier.width_s == SPARK_STEP_S else data.rebucket(SPARK_STEP_S)
        idx = ((merged.ts - start) // SPARK_STEP_S).astype(int)
        ok = (idx >= 0) & (idx < slots)
        row = grid.setdefault((ref.host_id, ref.name), np.full(slots, np.nan))
        row[idx[ok]] = np.fmax(row[idx[ok]], merged.avg[ok])
    out: dict[str, dict[str, list[float | None]]] = {}
    for (host, name), row in grid.items():
        out.setdefault(host, {})[name] = [None if math.isnan(v) else float(v) for v in row]
    return out


class SparkCache:
    """The fleet's sparklines as SVG, kept for ``ttl_s`` seconds and redrawn behind the page.

    A sparkline is a day of hourly averages: it changes as the current hour fills, so redrawing it
    on every request would read thousands of series for a picture that barely moves. Once the
    drawings are older than ``ttl_s``, the next request still gets them and a background thread
    reads and draws them again, so no request waits for the redraw; only the first request, one
    asking for a host the drawings lack, or one finding them older than ``stale_s`` draws them itself.
    """

    def __init__(self, ttl_s: float = 120.0, stale_s: float = 1800.0) -> None:
        self.ttl_s, self.stale_s = ttl_s, stale_s
        self._lock = threading.Lock()
        self._at = -math.inf
        self._svg: dict[str, dict[str, Markup]] = {}
        self._hosts: frozenset[str] = frozenset()
        self._refreshing: threading.Thread | None = None

    def get(self, conn: Connection, host_ids: Sequence[str], now_s: float,
            retention_s: Mapping[str, float]) -> dict[str, dict[str, Markup]]:
        with self._lock:
            age = now_s - self._at
            usable = self._hosts.issuperset(host_ids) and 0 <= age <= self.stale_s
            if usable:
                if age > self.ttl_s and self._refreshing is None:
                    self._refreshing = threading.Thread(
                        target=self._refresh, args=(conn.engine, tuple(self._hosts), now_s, retention_s),
                        name="console-sparklines", daemon=True)
                    self._refreshing.start()
                return self._svg
        svg = self._draw(conn, host_ids, now_s, retention_s)
        with self._lock:
            self._svg, self._hosts, self._at = svg, frozenset(host_ids), now_s
            return svg

    @staticmethod
    def _draw(conn: Connection, host_ids: Sequence[str], now_s: float,
              retention_s: Mapping[str, float]) -> dict[str, dict[str, Markup]]:
        values = sparklines(conn, host_ids, now_s, retention_s) if host_ids else {}
        return {h: {m: sparkline(v) for m, v in per.items()} for h, per in values.items()}

    def _refresh(self, engine: Engine, host_ids: tuple[str, ...], now_s: float,
                 retention_s: Mapping[str, float]) -> None:
        try:
            with engine.connect() as conn:
                svg = self._draw(conn, host_ids, now_s, retention_s)
            with self._lock:
                if now_s >= self._at:
                    self._svg, self._hosts, self._at = svg, frozenset(host_ids), now_s
        except Exception:  # a failed redraw keeps the last drawings; the next stale request tries again
            log.exception("event=console_sparklines_failed")
        finally:
            with self._lock:
                self._refreshing = None

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for a background redraw to finish (tests, benchmarks)."""
        thread = self._refreshing
        if thread is not None:
            thread.join(timeout)


def fleet(conn: Connection, now_s: float, offline_after_s: float, retention_s: Mapping[str, float],
          customer_names: Mapping[str, str], *, customer: str | None = None,
          customers: Sequence[str] | None = None, cache: SparkCache | None = None) -> list[FleetHost]:
    """Every host (of ``customer``, or of ``customers`` when given), problems first; sparklines from
    ``cache`` when given."""
    rows = queries.list_hosts(conn, now_s, offline_after_s, customer)
    if customers is not None:
        rows = [r for r in rows if r.customer_id in set(customers)]
    ids = [r.id for r in rows]
    scores = latest_scores(conn, ids)
    counts = open_ticket_counts(conn)
    sparks = (cache or SparkCache()).get(conn, ids, now_s, retention_s)
    out = []
    for r in rows:
        score, worst = scores.get(r.id, (None, None))
        n, severity = counts.get(r.id, (0, None))
        out.append(FleetHost(
            id=r.id, hostname=r.hostname, customer_id=r.customer_id,
            customer_name=customer_names.get(r.customer_id, r.customer_id), status=r.status,
            last_seen_ms=int(r.last_seen.timestamp() * 1000) if r.last_seen else None, labels=r.labels,
            key_values=r.key_values, score=score, inspection_status=worst, open_tickets=n,
            worst_severity=severity if n else None, sparks=sparks.get(r.id, {})))
    out.sort(key=FleetHost.urgency)
    return out


def filter_hosts(hosts: Sequence[FleetHost], *, text: str = "", customer: str = "",
                 status: str = "") -> list[FleetHost]:
    """The hosts matching a search text, a customer and a status (online | offline | problem)."""
    out = [h for h in hosts if h.matches(text) and (not customer or h.customer_id == customer)]
    if status == "problem":
        return [h for h in out if h.problem]
    if status in ("online", "offline"):
        return [h for h in out if h.status == status]
    return out
