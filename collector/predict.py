"""Predictions over the collector's own store: capacity forecasts and anomaly scores per host.

Forecasts look at the capacity series of the metric catalogue (disk space and inodes per mount,
available memory, swap, file descriptors) over the last two weeks; anomaly scores look at
utilisation series against their seasonal baseline. Both read the rollups, never an external TSDB,
and both are streaming-safe: a result at time t uses only data up to t.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from collector.cluster.membership import leads
from collector.store.queries import series_points
from collector.store.schema import hosts, series
from collector.tickets.config import AnomalyPolicy
from inspections.anomaly import Episode, analyse_series, find_episodes
from inspections.forecast import Forecast, capacity_limit, forecast

log = logging.getLogger("patrol.predict")

DAY = 86400.0
CAPACITY_SERIES = ("disk.used_percent", "disk.inodes_used_percent", "mem.available_bytes", "swap.used_percent",
                   "fd.used_percent")
# Utilisation series watched for anomalies: display name (en, zh) and unit, for what people read.
ANOMALY_SERIES: dict[str, tuple[dict[str, str], str]] = {
    "cpu.busy_percent": ({"en": "CPU busy", "zh": "CPU 使用率"}, "%"),
    "load.load1_per_core": ({"en": "Load per core", "zh": "每核负载"}, ""),
    "mem.used_percent": ({"en": "Memory used", "zh": "内存使用率"}, "%"),
    "diskio.busy_percent": ({"en": "Disk busy", "zh": "磁盘繁忙度"}, "%"),
}


@dataclass
class CapacityForecast:
    host_id: str
    hostname: str
    customer_id: str
    series: str
    labels: dict[str, str]
    result: Forecast
    points: list[tuple[float, float]] = field(default_factory=list)  # (unix s, value): the evidence

    @property
    def subject(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.labels.items())) or self.series

    def to_dict(self) -> dict[str, Any]:
        return {"host_id": self.host_id, "hostname": self.hostname, "customer_id": self.customer_id,
                "series": self.series, "labels": self.labels, "subject": self.subject,
                "forecast": self.result.to_dict(), "points": self.points}


@dataclass
class AnomalyResult:
    """The anomaly state of one series at ``now``: firing with its episode, or clear (``episode`` None)."""

    host_id: str
    hostname: str
    customer_id: str
    series: str
    labels: dict[str, str]
    firing: bool
    episode: Episode | None = None

    def to_dict(self) -> dict[str, Any]:
        display, unit = ANOMALY_SERIES.get(self.series, ({"en": self.series}, ""))
        out: dict[str, Any] = {"host_id": self.host_id, "hostname": self.hostname, "customer_id": self.customer_id,
                               "series": self.series, "labels": self.labels, "firing": self.firing,
                               "display": display, "unit": unit}
        if self.episode is not None:
            out.update(self.episode.to_dict())
            # These series cannot leave [0, 100 %]; a band reaching past that would read as nonsense.
            out["band_low"] = max(0.0, out["band_low"])
            if unit == "%":
                out["band_high"] = min(100.0, out["band_high"])
        return out


def _hosts(conn: Connection, customer: str | None) -> list[Any]:
    q = select(hosts.c.id, hosts.c.hostname, hosts.c.customer_id)
    if customer:
        q = q.where(hosts.c.customer_id == customer)
    return list(conn.execute(q))


def _stored_series(engine: Engine, now: float, retention_s: dict[str, float], customer: str | None,
                   names: Iterable[str], lookback_s: float,
                   step_s: float) -> Iterator[tuple[Any, str, dict[str, str], np.ndarray, np.ndarray]]:
    """(host, series name, labels, bucket starts, bucket averages) of every series ``names`` of every host."""
    with engine.connect() as conn:
        for h in _hosts(conn, customer):
            rows = conn.execute(select(series.c.name, series.c.labels)
                                .where(series.c.host_id == h.id, series.c.name.in_(list(names))))
            for name, labels in [(r.name, dict(json.loads(r.labels))) for r in rows]:
                data = series_points(conn, h.id, name, now - lookback_s, now + 1, step_s, now, retention_s, labels)
                pts = [(p["ts"].timestamp(), p["avg"]) for s in data if s["labels"] == labels
                       for p in s["points"] if p["avg"] is not None]
                yield (h, name, labels, np.array([t for t, _ in pts], dtype=float),
                       np.array([v for _, v in pts], dtype=float))


def rollup_forecast_points(starts: np.ndarray, averages: np.ndarray, now: float,
                           step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The (time, value) points a forecast reads from ``step_s``-wide rollup averages starting at ``starts``.

    A bucket's average stands for its middle; a bucket whose middle is still ahead of ``now`` is left
    out, so a forecast never rests on a point dated in the future. ``bench/forecast.py`` feeds its
    generated series through this same function before calling :func:`forecast`.
    """
    ts = starts + step_s / 2
    keep = ts <= now
    return ts[keep], averages[keep]


def forecast_capacity(engine: Engine, now: float, retention_s: dict[str, float], customer: str | None = None,
                      lookback_s: float = 14 * DAY, step_s: float = 600.0,
                      horizon_s: float = 7 * DAY) -> list[CapacityForecast]:
    """A forecast for every capacity series of every host (of ``customer``) from data up to ``now``."""
    out: list[CapacityForecast] = []
    for h, name, labels, starts, vs in _stored_series(engine, now, retention_s, customer, CAPACITY_SERIES,
                                                      lookback_s, step_s):
        preset = capacity_limit(name, labels)
        if preset is None:
            continue
        limit, direction = preset
        ts, vs = rollup_forecast_points(starts, vs, now, step_s)
        if len(ts) < 3:
            continue
        result = forecast(ts, vs, limit, direction, now=now, horizon_s=horizon_s)
        recent = int(3 * DAY / step_s)
        out.append(CapacityForecast(h.id, h.hostname, h.customer_id, name, labels, result,
                                    points=[(float(t), float(v)) for t, v in zip(ts[-recent:], vs[-recent:],
                                                                                 strict=True)]))
    return out


def score_anomalies(engine: Engine, now: float, retention_s: dict[str, float], customer: str | None = None,
                    policy: AnomalyPolicy | None = None, lookback_s: float = 14 * DAY, recent_s: float = 3600.0,
                    step_s: float = 600.0) -> list[AnomalyResult]:
    """The anomaly state of every utilisation series of every host (of ``customer``) at ``now``.

    A series fires when an episode that meets ``policy`` (likelihood, duration, one per
    ``per_series_every``) is still going on or qualified within the last ``recent_s`` (the run
    interval), so a finished episode is not raised again by later runs; otherwise it is clear.
    """
    rules = policy or AnomalyPolicy.model_validate({})
    out: list[AnomalyResult] = []
    for h, name, labels, ts, vs in _stored_series(engine, now, retention_s, customer, ANOMALY_SERIES,
                                                  lookback_s, step_s):
        if len(ts) < 10:
            continue
        episodes = find_episodes(ts, vs, analyse_series(ts, vs), min_score=rules.min_likelihood,
                                 band_sigmas=rules.band_sigmas, min_duration_s=rules.min_duration,
                                 min_gap_s=rules.per_series_every)
        last = episodes[-1] if episodes else None
        current = last is not None and (
            last.ongoing or max(last.detected_at, last.start + rules.min_duration) >= now - recent_s)
        out.append(AnomalyResult(h.id, h.hostname, h.customer_id, name, labels, current,
                                 last if current else None))
    return out


class PredictService:
    """Runs forecasts and anomaly scoring on a timer and hands the results to the ticket engine."""

    name = "predict"

    def __init__(self, app: Any, interval_s: float = 3600.0) -> None:
        self.app = app
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def run_once(self, customer: str | None = None) -> dict[str, Any]:
        from collector.tickets import process_anomalies, process_forecasts, ticket_service

        app = self.app
        now = app.clock()
        forecasts = forecast_capacity(app.engine, now, app.ingestor.retention_s, customer)
        anomalies = score_anomalies(app.engine, now, app.ingestor.retention_s, customer,
                                    policy=ticket_service(app).cfg.anomalies, recent_s=self.interval_s)
        f_report = process_forecasts(app, [f.to_dict() for f in forecasts])
        a_report = process_anomalies(app, [a.to_dict() for a in anomalies])
        firing = sum(1 for a in anomalies if a.firing)
        log.info("event=predictions forecasts=%d with_eta=%d anomalous_series=%d", len(forecasts),
                 sum(1 for f in forecasts if f.result.eta is not None), firing)
        return {"forecasts": len(forecasts), "crossings": sum(1 for f in forecasts if f.result.eta is not None),
                "anomalies": firing, "tickets_from_forecasts": f_report.to_dict(),
                "tickets_from_anomalies": a_report.to_dict()}

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if not leads(self.app):
                continue
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("event=predictions_failed")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def predict_service(app: Any) -> PredictService:
    return PredictService(app)
