"""The predictions pass over the collector's own store: capacity forecasts and anomaly scores per host.

Forecasts look at the capacity series of the metric catalogue (disk space and inodes per mount,
memory used, swap, file descriptors) over the last two weeks; anomaly scores look at the
catalogue's anomaly-scored utilisation series against their seasonal baseline. Both read the
rollups, never an external TSDB, and both are streaming-safe: a result at time t uses only data up
to t. Each pass stores its results as forecast runs (:mod:`collector.predictions.runs`) and hands
the stored runs to the ticket service; the API, the CLI and the reports read the same runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from collector.predictions import runs
from collector.scheduler import Every, JobSpec
from collector.store.read import align, find_series, pick_tier, read_series
from collector.store.schema import hosts
from collector.tickets.config import AnomalyPolicy
from collector.tickets.sources import downsample
from inspections.anomaly import analyse_series, find_episodes
from inspections.catalogue import catalogue
from inspections.forecast import ForecastConfig, capacity_limit, forecast
from inspections.signals import Anomaly, CapacityForecast, InputWindow

log = logging.getLogger("patrol.predict")

DAY = 86400.0
# Forecasts fit a robust trend with change points (inspections.forecast) to 10-minute averages of
# the last two weeks; anomalies compare the same averages with their seasonal baseline.
CAPACITY_METHOD = "robust-trend/10m-avg/14d"
ANOMALY_METHOD = "seasonal-baseline/10m-avg/14d"
EVIDENCE_S = 3 * DAY  # the input a predictive ticket shows
EVIDENCE_POINTS = 240  # as many as a ticket keeps (tickets.forecasts.max_points)
# Every run of the last two days is kept, then the last run of each day for 400 days: enough to
# regenerate last year's quarterly reports from the runs they showed.
KEEP_EVERY_S = 2 * DAY
KEEP_DAILY_S = 400 * DAY


def _hosts(conn: Connection, customer: str | None) -> list[Any]:
    q = select(hosts.c.id, hosts.c.hostname, hosts.c.customer_id)
    if customer:
        q = q.where(hosts.c.customer_id == customer)
    return list(conn.execute(q))


def _stored_series(engine: Engine, now: float, retention_s: dict[str, float], customer: str | None,
                   names: Iterable[str], lookback_s: float,
                   step_s: float) -> Iterator[tuple[Any, str, dict[str, str], np.ndarray, np.ndarray]]:
    """(host, series name, labels, bucket starts, bucket averages) of every series ``names`` of every
    host; buckets without samples are left out."""
    since, until = now - lookback_s, now + 1
    tier = pick_tier(since, step_s, now, retention_s)
    step = max(int(step_s), tier.width_s)
    with engine.connect() as conn:
        by_id = {h.id: h for h in _hosts(conn, customer)}
        refs = sorted(find_series(conn, list(by_id), names), key=lambda r: (r.host_id, r.name, r.labels_text))
        for ref, data in read_series(conn, tier, refs, align(since, tier.width_s), until):
            merged = data.rebucket(step)
            filled = merged.count > 0
            yield by_id[ref.host_id], ref.name, ref.labels, merged.ts[filled], merged.avg[filled]


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


def _ref(h: Any, name: str, labels: dict[str, str], window: InputWindow, method: str,
         now: float) -> dict[str, Any]:
    return {"host_id": h.id, "hostname": h.hostname, "customer_id": h.customer_id, "series": name,
            "labels": labels, "window": window, "method": method, "computed_at": datetime.fromtimestamp(now, tz=UTC)}


def forecast_capacity(engine: Engine, now: float, retention_s: dict[str, float], customer: str | None = None,
                      lookback_s: float = 14 * DAY, step_s: float = 600.0) -> list[CapacityForecast]:
    """A forecast for every capacity series of the catalogue of every host (of ``customer``) up to ``now``.

    The ETA is not cut at any horizon: tickets and reports each decide which crossings are close
    enough for them. The forecaster never looks further ahead than five times the span it fitted.
    """
    out: list[CapacityForecast] = []
    window = InputWindow(now - lookback_s, now, step_s)
    for h, name, labels, starts, vs in _stored_series(engine, now, retention_s, customer,
                                                      catalogue().capacity_series(), lookback_s, step_s):
        preset = capacity_limit(name, labels)
        if preset is None:
            continue
        limit, direction = preset
        ts, vs = rollup_forecast_points(starts, vs, now, step_s)
        if len(ts) < 3:
            continue
        result = forecast(ts, vs, limit, direction, now=now)
        # Only a crossing can become a predictive ticket that shows its input: the other runs stay small.
        recent = ts >= now - EVIDENCE_S
        evidence = (downsample(list(zip(ts[recent].tolist(), vs[recent].tolist(), strict=True)), EVIDENCE_POINTS)
                    if result.eta is not None else [])
        out.append(CapacityForecast(**_ref(h, name, labels, window, CAPACITY_METHOD, now), result=result,
                                    points=tuple((a, b) for a, b in evidence)))
    return out


def score_anomalies(engine: Engine, now: float, retention_s: dict[str, float], customer: str | None = None,
                    policy: AnomalyPolicy | None = None, lookback_s: float = 14 * DAY, recent_s: float = 3600.0,
                    step_s: float = 600.0) -> list[Anomaly]:
    """The anomaly state of every anomaly-scored series of the catalogue of every host at ``now``.

    A series fires when an episode that meets ``policy`` (likelihood, duration, one per
    ``per_series_every``) is still going on or qualified within the last ``recent_s`` (the run
    interval), so a finished episode is not raised again by later runs; otherwise it is clear.
    """
    rules = policy or AnomalyPolicy.model_validate({})
    window = InputWindow(now - lookback_s, now, step_s)
    out: list[Anomaly] = []
    for h, name, labels, ts, vs in _stored_series(engine, now, retention_s, customer,
                                                  catalogue().anomaly_series(), lookback_s, step_s):
        if len(ts) < 10:
            continue
        episodes = find_episodes(ts, vs, analyse_series(ts, vs), min_score=rules.min_likelihood,
                                 band_sigmas=rules.band_sigmas, min_duration_s=rules.min_duration,
                                 min_gap_s=rules.per_series_every)
        last = episodes[-1] if episodes else None
        current = last is not None and (
            last.ongoing or max(last.detected_at, last.start + rules.min_duration) >= now - recent_s)
        out.append(Anomaly(**_ref(h, name, labels, window, ANOMALY_METHOD, now), firing=current,
                           episode=last if current else None))
    return out


def predict_and_store(engine: Engine, now: float, retention_s: dict[str, float], customer: str | None = None,
                      policy: AnomalyPolicy | None = None,
                      recent_s: float = 3600.0) -> tuple[list[CapacityForecast], list[Anomaly], int]:
    """One predictions pass up to ``now``: forecasts and anomaly states stored as runs (with their
    ids), and how many old runs were pruned to keep the history bounded."""
    forecasts = forecast_capacity(engine, now, retention_s, customer)
    anomalies = score_anomalies(engine, now, retention_s, customer, policy=policy, recent_s=recent_s)
    with engine.begin() as conn:
        stored_forecasts = runs.save(conn, forecasts, ForecastConfig().confidence)
        stored_anomalies = runs.save(conn, anomalies)
        pruned = runs.prune(conn, datetime.fromtimestamp(now, tz=UTC), KEEP_EVERY_S, KEEP_DAILY_S)
    return stored_forecasts, stored_anomalies, pruned


DEFAULT_INTERVAL_S = 3600.0


class PredictService:
    """Runs forecasts and anomaly scoring (the ``predictions`` job) and hands the results to the ticket engine.

    ``interval_s`` is the job's period: an anomaly is current when it was seen within one period.
    """

    name = "predict"

    def __init__(self, app: Any, interval_s: float | None = None) -> None:
        self.app = app
        self.interval_s = interval_s if interval_s is not None else \
            app.cfg.section("jobs").interval_of("predictions", DEFAULT_INTERVAL_S)

    def run_once(self, customer: str | None = None) -> dict[str, Any]:
        """Compute forecasts and anomaly states once, store them as runs, and hand the stored runs to tickets."""
        from collector.tickets import process_anomalies, process_forecasts, ticket_service

        app = self.app
        now = app.clock()
        forecasts, anomalies, pruned = predict_and_store(app.engine, now, app.ingestor.retention_s, customer,
                                                         ticket_service(app).cfg.anomalies, self.interval_s)
        f_report = process_forecasts(app, forecasts)
        a_report = process_anomalies(app, anomalies)
        firing = sum(1 for a in anomalies if a.firing)
        crossings = sum(1 for f in forecasts if f.result.eta is not None)
        log.info("event=predictions forecasts=%d with_eta=%d anomalous_series=%d runs_pruned=%d", len(forecasts),
                 crossings, firing, pruned)
        return {"computed_at": datetime.fromtimestamp(now, tz=UTC).isoformat(), "forecasts": len(forecasts),
                "crossings": crossings, "anomalies": firing, "runs_stored": len(forecasts) + len(anomalies),
                "runs_pruned": pruned, "tickets_from_forecasts": f_report.to_dict(),
                "tickets_from_anomalies": a_report.to_dict()}

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def predict_service(app: Any) -> PredictService:
    return PredictService(app)


def jobs(service: PredictService) -> list[JobSpec]:
    return [JobSpec("predictions", "Predictions: capacity forecasts and anomaly scores", service.run_once,
                    Every(service.interval_s))]
