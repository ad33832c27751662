"""Resource usage, availability and capacity forecasts of a customer's hosts, from the hourly rollups.

Reports cover a month or a quarter, so they read the hourly tier through the store's read layer
and merge the hours into their buckets (six hours and a day for charts, a month for the quarterly
table) as numpy columns. Two things need more than those buckets:

- **availability** is the inspections' ``host.up`` read through :class:`StoreData`: the stored
  series where the collector writes one (agentless hosts), otherwise derived per hour from the
  heartbeat series' sample counts, so the report and the ``device.availability`` check agree;
- **forecasts** are not computed here: they are the runs the predictions job stored
  (:mod:`collector.predictions.runs`), the newest up to the report's end, so a past period gives
  the same forecast when it is regenerated and every ETA equals the ticket's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from collector.inspection.data import HOST_UP, StoreData
from collector.predictions import runs
from collector.store.read import find_series, from_seconds, read_series, to_seconds
from collector.store.read.tiers import TIERS
from collector.tickets.model import fingerprint
from inspections.catalogue import subject_of
from inspections.signals import CapacityForecast
from reports.model import Line, Point

CPU, MEM, DISK = "cpu.busy_percent", "mem.used_percent", "disk.used_percent"
UTILISATION = (CPU, MEM, DISK)
FLEET_QUORUM = 0.9
HOURLY = TIERS[-1]


@dataclass
class Buckets:
    """Buckets of one series: start (unix s), count-weighted average, maximum, sample count, and the
    minimum where the source has one (rollups do)."""

    labels: dict[str, str]
    ts: np.ndarray
    avg: np.ndarray
    max: np.ndarray
    counts: np.ndarray
    min: np.ndarray | None = None

    def between(self, since: float, until: float) -> Buckets:
        keep = (self.ts >= since) & (self.ts < until)
        return Buckets(self.labels, self.ts[keep], self.avg[keep], self.max[keep], self.counts[keep],
                       None if self.min is None else self.min[keep])

    def points(self, how: str) -> list[Point]:
        values = {"max": self.max, "min": self.min}.get(how, self.avg)
        if values is None:
            return []
        return [(from_seconds(t), float(v)) for t, v in zip(self.ts, values, strict=True) if math.isfinite(v)]


Usage = dict[str, dict[str, list[Buckets]]]  # host id -> series name -> one per label set


def load_buckets(engine: Engine, host_ids: Sequence[str], names: Sequence[str], since: datetime, until: datetime,
                 step_s: float, offset_s: float = 0.0) -> Usage:
    """``names`` of every host from the hourly tier, merged into ``step_s`` buckets.

    Buckets start at multiples of ``step_s`` shifted by ``-offset_s`` (the zone's UTC offset makes
    daily buckets local days). The average is weighted by sample counts, the maximum is the largest.
    """
    out: Usage = {}
    with engine.connect() as conn:
        refs = find_series(conn, host_ids, names)
        for ref, data in read_series(conn, HOURLY, refs, to_seconds(since), to_seconds(until)):
            if not len(data):
                continue
            merged = data.rebucket(int(step_s), int(offset_s))
            out.setdefault(ref.host_id, {}).setdefault(ref.name, []).append(
                Buckets(ref.labels, merged.ts, merged.avg, merged.max, merged.count, merged.min))
    return out


def window_stats(engine: Engine, host_ids: Sequence[str], names: Sequence[str], since: datetime,
                 until: datetime) -> dict[str, dict[str, list[tuple[dict[str, str], float | None, float | None]]]]:
    """Per host and series: (labels, count-weighted average, maximum) over ``[since, until)``."""
    out: dict[str, dict[str, list[tuple[dict[str, str], float | None, float | None]]]] = {}
    with engine.connect() as conn:
        refs = find_series(conn, host_ids, names)
        for ref, data in read_series(conn, HOURLY, refs, to_seconds(since), to_seconds(until)):
            if not len(data):
                continue
            count = int(data.count.sum())
            avg = float(data.sum.sum()) / count if count else None
            out.setdefault(ref.host_id, {}).setdefault(ref.name, []).append(
                (ref.labels, avg, float(data.max.max())))
    return out


def _one(items: list[Buckets] | None) -> Buckets | None:
    """The label-less series (CPU, memory), or the only one there is."""
    items = items or []
    return next((b for b in items if not b.labels), None) or next(iter(items), None)


# -- availability --------------------------------------------------------------------------------


def load_availability(engine: Engine, retention_s: dict[str, float], clock: Callable[[], float],
                      host_ids: Sequence[str], since: datetime, until: datetime) -> dict[str, Buckets]:
    """``host.up`` per hour of every host (stored, or derived from its heartbeat series)."""
    data = StoreData(engine, retention_s, clock)
    out: dict[str, Buckets] = {}
    if not host_ids:
        return out
    data.prefetch(list(host_ids), [HOST_UP], [], since, until)
    for host in host_ids:
        for rollup in data.rollups(host, HOST_UP, since, until):
            cols = rollup.columns()
            out[host] = Buckets({}, cols.ts, np.asarray(cols.avg, dtype=float), np.asarray(cols.max, dtype=float),
                                np.asarray(cols.counts, dtype=float))
    return out


def availability(up: Buckets | None, since: float, until: float) -> tuple[float | None, float, int]:
    """(availability in percent, hours down, hours judged) in ``[since, until)``.

    Each judged hour weighs the same (the derived series has one bucket per hour; a stored
    ``host.up`` averages its polls within the hour).
    """
    if up is None:
        return None, 0.0, 0
    part = up.between(since, until)
    ok = np.isfinite(part.avg)
    hours = int(ok.sum())
    if not hours:
        return None, 0.0, 0
    values = np.clip(part.avg[ok], 0.0, 1.0)
    return 100.0 * float(values.mean()), float(np.sum(1.0 - values)), hours


# -- utilisation ---------------------------------------------------------------------------------


def _fullest(items: list[Buckets] | None) -> Buckets | None:
    best: tuple[float, Buckets] | None = None
    for b in items or []:
        ok = b.max[np.isfinite(b.max)]
        if len(ok) and (best is None or float(ok.max()) > best[0]):
            best = (float(ok.max()), b)
    return best[1] if best else None


def utilisation_lines(usage: Mapping[str, list[Buckets]]) -> tuple[Line, ...]:
    """CPU and memory averages and the fullest mount's maxima, one point per bucket."""
    lines = []
    for key, name in (("cpu", CPU), ("mem", MEM)):
        b = _one(usage.get(name))
        if b is not None:
            lines.append(Line(key, tuple(b.points("avg"))))
    disk = _fullest(usage.get(DISK))
    if disk is not None:
        lines.append(Line("disk", tuple(disk.points("max")), lows=tuple(disk.points("min"))))
    return tuple(line for line in lines if line.points)


def month_usage(stats: Mapping[str, list[tuple[dict[str, str], float | None, float | None]]]
                ) -> dict[str, float | None]:
    """CPU and memory average and peak, and the fullest mount's peak, from :func:`window_stats`."""
    out: dict[str, float | None] = {}
    for key, name in (("cpu", CPU), ("mem", MEM)):
        items = stats.get(name, [])
        chosen = next((s for s in items if not s[0]), None) or next(iter(items), None)
        out[f"{key}_avg"] = chosen[1] if chosen else None
        out[f"{key}_peak"] = chosen[2] if chosen else None
    peaks = [p for _, _, p in stats.get(DISK, []) if p is not None]
    out["disk_peak"] = max(peaks) if peaks else None
    return out


def month_usage_from(usage: Mapping[str, list[Buckets]], since: float, until: float) -> dict[str, float | None]:
    """:func:`month_usage` from daily buckets that start exactly at ``since`` (local midnight)."""
    stats: dict[str, list[tuple[dict[str, str], float | None, float | None]]] = {}
    for name, items in usage.items():
        for b in items:
            part = b.between(since, until)
            ok = np.isfinite(part.avg) & (part.counts > 0)
            count = float(part.counts[ok].sum())
            avg = float(np.sum(part.avg[ok] * part.counts[ok]) / count) if count else None
            peaks = part.max[np.isfinite(part.max)]
            stats.setdefault(name, []).append((b.labels, avg, float(peaks.max()) if len(peaks) else None))
    return month_usage(stats)


def fleet_lines(usages: Iterable[Mapping[str, list[Buckets]]]) -> tuple[Line, ...]:
    """Per bucket: the mean over hosts of CPU and memory averages and of each host's fullest-mount peak.

    A bucket counts only when at least :data:`FLEET_QUORUM` of the hosts with that line report it,
    so a host that was down does not pull the fleet's mean toward the others (the line skips it).
    """
    per_key: dict[str, dict[datetime, list[float]]] = {"cpu": {}, "mem": {}, "disk": {}}
    hosts_with: dict[str, int] = {"cpu": 0, "mem": 0, "disk": 0}
    for usage in usages:
        for line in utilisation_lines(usage):
            hosts_with[line.key] += 1
            for t, v in line.points:
                per_key[line.key].setdefault(t, []).append(v)
    out = []
    for key, days in per_key.items():
        need = FLEET_QUORUM * hosts_with[key]
        points = tuple((t, float(np.mean(vs))) for t, vs in sorted(days.items()) if len(vs) >= need)
        if points:
            out.append(Line(key, points))
    return tuple(out)


def disk_history(usage: Mapping[str, list[Buckets]], how: str = "max") -> dict[str, list[Point]]:
    """Per mount: the maxima per bucket (``how="min"``: the minima, the lower edge of a mount's range)."""
    return {subject_of(DISK, b.labels): b.points(how) for b in usage.get(DISK, [])}


# -- forecasts -----------------------------------------------------------------------------------


def stored_forecasts(engine: Engine, host_ids: Sequence[str], at: datetime,
                     tickets: Mapping[str, int] | None = None) -> list[CapacityForecast]:
    """The capacity forecasts of each host's newest predictions pass up to ``at``, as tickets saw them.

    Nothing is computed here: a report shows the runs the predictions job stored, so its ETAs equal
    the tickets' and the API's, and a past period shows what was forecast then. ``tickets`` maps a
    predictive ticket's fingerprint to its id; a forecast links to the ticket raised from its series.
    """
    with engine.connect() as conn:
        found = [r for r in runs.latest(conn, "capacity", at, host_ids=host_ids) if isinstance(r, CapacityForecast)]
    links = tickets or {}
    return [fc.linked(links.get(fingerprint(fc.host_id, fc.check_id, fc.labels_key))) for fc in found]
