"""Resource usage, availability and capacity forecasts of a customer's hosts, from the hourly rollups.

Reports cover a month or a quarter, so they read the hourly tier, and let the database do the
aggregating: charts get their points (six hours, a day) and the quarterly table its monthly figures
from ``GROUP BY`` queries, a few rows per series instead of every hour. Only two things need the
hours themselves:

- **availability** is the inspections' ``host.up`` read through :class:`StoreData`: the stored
  series where the collector writes one (agentless hosts), otherwise derived per hour from the
  heartbeat series' sample counts, so the report and the ``device.availability`` check agree;
- **forecasts** run :func:`inspections.forecast.forecast` on the maxima per bucket up to the
  report's end, so a past period gives the same forecast when it is regenerated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Connection, Engine, func, select

from collector.inspection.data import HOST_UP, StoreData
from collector.store.rollup import TIERS
from collector.store.schema import series
from inspections.data import from_epoch
from inspections.forecast import ForecastConfig, capacity_limit, forecast
from reports.model import CapacityForecast, HostRef, Line, Point

CPU, MEM, DISK = "cpu.busy_percent", "mem.used_percent", "disk.used_percent"
UTILISATION = (CPU, MEM, DISK)
CAPACITY_SERIES = ("disk.used_percent", "disk.inodes_used_percent", "mem.used_percent", "swap.used_percent",
                   "fd.used_percent")
# The label that names the resource of a capacity series (the mount of a disk).
_SUBJECT_LABEL = {"disk.used_percent": "mount", "disk.inodes_used_percent": "mount"}
HOUR = 3600.0
DAY = 86400.0
FLEET_QUORUM = 0.9
_IN_CHUNK = 900


@dataclass
class Buckets:
    """Buckets of one series: start (unix s), count-weighted average, maximum, sample count."""

    labels: dict[str, str]
    ts: np.ndarray
    avg: np.ndarray
    max: np.ndarray
    counts: np.ndarray

    def between(self, since: float, until: float) -> Buckets:
        keep = (self.ts >= since) & (self.ts < until)
        return Buckets(self.labels, self.ts[keep], self.avg[keep], self.max[keep], self.counts[keep])

    def points(self, how: str) -> list[Point]:
        values = self.max if how == "max" else self.avg
        return [(from_epoch(t), float(v)) for t, v in zip(self.ts, values, strict=True) if math.isfinite(v)]


Usage = dict[str, dict[str, list[Buckets]]]  # host id -> series name -> one per label set


def _labels(text: str) -> dict[str, str]:
    return dict(json.loads(text)) if text and text != "[]" else {}


def _series_ids(conn: Connection, host_ids: Sequence[str], names: Sequence[str]) -> dict[int, tuple[str, str, str]]:
    out: dict[int, tuple[str, str, str]] = {}
    for i in range(0, len(host_ids), 400):
        rows = conn.execute(select(series.c.id, series.c.host_id, series.c.name, series.c.labels)
                            .where(series.c.host_id.in_(list(host_ids[i:i + 400])), series.c.name.in_(list(names))))
        for sid, host, name, labels in rows:
            out[sid] = (host, name, labels)
    return out


def load_buckets(engine: Engine, host_ids: Sequence[str], names: Sequence[str], since: datetime, until: datetime,
                 step_s: float, offset_s: float = 0.0) -> Usage:
    """``names`` of every host aggregated into ``step_s`` buckets by the database.

    Buckets start at multiples of ``step_s`` shifted by ``-offset_s`` (the zone's UTC offset makes
    daily buckets local days). The average is weighted by sample counts, the maximum is the largest.
    """
    t = TIERS[-1].table
    step, offset = int(step_s), int(offset_s)
    lo, hi = math.ceil(since.timestamp()), math.ceil(until.timestamp())
    out: Usage = {}
    with engine.connect() as conn:
        ids = _series_ids(conn, host_ids, names)
        keys = sorted(ids)
        for i in range(0, len(keys), _IN_CHUNK):
            key = ((t.c.bucket + offset) // step).label("k")
            rows = conn.execute(
                select(t.c.series_id, key, func.sum(t.c.sum), func.sum(t.c.count), func.max(t.c.max))
                .where(t.c.series_id.in_(keys[i:i + _IN_CHUNK]), t.c.bucket >= lo, t.c.bucket < hi)
                .group_by(t.c.series_id, key).order_by(t.c.series_id, key)).all()
            by_series: dict[int, list[tuple[int, float, float, float]]] = {}
            for sid, k, total, count, peak in rows:
                by_series.setdefault(sid, []).append((int(k), float(total), float(count), float(peak)))
            for sid, cells in by_series.items():
                host, name, labels = ids[sid]
                arr = np.array(cells, dtype=np.float64)
                with np.errstate(invalid="ignore", divide="ignore"):
                    avg = np.where(arr[:, 2] > 0, arr[:, 1] / arr[:, 2], np.nan)
                out.setdefault(host, {}).setdefault(name, []).append(
                    Buckets(_labels(labels), arr[:, 0] * step - offset, avg, arr[:, 3], arr[:, 2]))
    return out


def window_stats(engine: Engine, host_ids: Sequence[str], names: Sequence[str], since: datetime,
                 until: datetime) -> dict[str, dict[str, list[tuple[dict[str, str], float | None, float | None]]]]:
    """Per host and series: (labels, count-weighted average, maximum) over ``[since, until)``."""
    t = TIERS[-1].table
    lo, hi = math.ceil(since.timestamp()), math.ceil(until.timestamp())
    out: dict[str, dict[str, list[tuple[dict[str, str], float | None, float | None]]]] = {}
    with engine.connect() as conn:
        ids = _series_ids(conn, host_ids, names)
        keys = sorted(ids)
        for i in range(0, len(keys), _IN_CHUNK):
            rows = conn.execute(select(t.c.series_id, func.sum(t.c.sum), func.sum(t.c.count), func.max(t.c.max))
                                .where(t.c.series_id.in_(keys[i:i + _IN_CHUNK]), t.c.bucket >= lo, t.c.bucket < hi)
                                .group_by(t.c.series_id))
            for sid, total, count, peak in rows:
                host, name, labels = ids[sid]
                avg = float(total) / float(count) if count else None
                out.setdefault(host, {}).setdefault(name, []).append(
                    (_labels(labels), avg, float(peak) if peak is not None else None))
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
        lines.append(Line("disk", tuple(disk.points("max"))))
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


def disk_history(usage: Mapping[str, list[Buckets]]) -> dict[str, list[Point]]:
    """Per mount: the maxima per bucket."""
    return {subject_of(DISK, b.labels): b.points("max") for b in usage.get(DISK, [])}


# -- forecasts -----------------------------------------------------------------------------------


def subject_of(name: str, labels: Mapping[str, str]) -> str:
    key = _SUBJECT_LABEL.get(name)
    if key and key in labels:
        return labels[key]
    return labels_subject(labels)


def labels_subject(labels: Mapping[str, str]) -> str:
    """The subject predictive tickets use for a series' labels (``collector.tickets.sources``)."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def load_capacity(engine: Engine, host_ids: Sequence[str], at: datetime, config: ForecastConfig) -> Usage:
    """Maxima per forecast bucket of the capacity series over the forecaster's lookback up to ``at``."""
    since = at - timedelta(seconds=config.lookback_s)
    return load_buckets(engine, host_ids, CAPACITY_SERIES, since, at, config.bucket_s)


def capacity_forecasts(host: HostRef, usage: Mapping[str, list[Buckets]], at: datetime, horizon_end: datetime,
                       config: ForecastConfig,
                       tickets: Mapping[tuple[str | None, str, str], int] | None = None) -> list[CapacityForecast]:
    """A forecast for every capacity series of the host from its bucket maxima up to ``at``.

    ``tickets`` maps (host, series, labels subject) to an open predictive ticket to link.
    """
    tickets = tickets or {}
    out: list[CapacityForecast] = []
    now = at.timestamp()
    width = config.bucket_s
    for name in CAPACITY_SERIES:
        preset = capacity_limit(name)
        if preset is None:
            continue
        limit, direction = preset
        for b in usage.get(name, []):
            ok = np.isfinite(b.max) & (b.ts + width <= now)
            if ok.sum() < 3:
                continue
            # A bucket's maximum at its middle: the forecaster then says when the peaks reach the limit.
            fc = forecast(b.ts[ok] + width / 2, b.max[ok], limit, direction, now=now,
                          horizon_s=(horizon_end - at).total_seconds(), config=config)
            out.append(CapacityForecast(
                host=host, series=name, subject=subject_of(name, b.labels), limit=limit, unit="%",
                level=fc.level, slope_per_day=None if fc.slope is None else fc.slope * DAY, at=at,
                eta=_dt(fc.eta), eta_low=_dt(fc.eta_low), eta_high=_dt(fc.eta_high), reason=fc.reason,
                ticket_id=tickets.get((host.host_id, name, labels_subject(b.labels)))))
    return out


def _dt(seconds: float | None) -> datetime | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return from_epoch(seconds)
