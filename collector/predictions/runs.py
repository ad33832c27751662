"""Storing and reading forecast runs: the one place the predictions job's results live.

The predictions job (:class:`collector.predictions.service.PredictService`) writes every result of a pass with
one ``computed_ms``; readers ask for the newest pass of each host up to a moment (now for tickets
and the API, the end of a report's period for reports), so a past report shows the forecast that
was current then, and every reader of one series sees the same run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, delete, func, insert, select

from collector.predictions.tables import forecast_runs as runs
from inspections.anomaly import Episode
from inspections.forecast import Forecast
from inspections.signals import Anomaly, CapacityForecast, InputWindow, RunKind

DAY_MS = 86_400_000
Result = CapacityForecast | Anomaly
R = TypeVar("R", CapacityForecast, Anomaly)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _row(r: Result, confidence: float | None) -> dict[str, Any]:
    common = {"computed_ms": _ms(r.computed_at.timestamp()), "host_id": r.host_id, "customer_id": r.customer_id,
              "series": r.series, "labels": r.labels_key, "method": r.method,
              "window_start_ms": _ms(r.window.start), "window_end_ms": _ms(r.window.end), "step_s": r.window.step_s}
    doc: dict[str, Any] = {"hostname": r.hostname, "labels": dict(r.labels)}
    if isinstance(r, CapacityForecast):
        f = r.result
        doc.update(forecast=dataclasses.asdict(f), points=[list(p) for p in r.points])
        return {**common, "kind": "capacity", "eta_ms": _ms(f.eta), "eta_low_ms": _ms(f.eta_low),
                "eta_high_ms": _ms(f.eta_high), "limit_value": f.limit, "slope_per_day": r.slope_per_day,
                "confidence": confidence, "score": None, "firing": None, "result": doc}
    doc["episode"] = None if r.episode is None else dataclasses.asdict(r.episode)
    return {**common, "kind": "anomaly", "eta_ms": None, "eta_low_ms": None, "eta_high_ms": None,
            "limit_value": None, "slope_per_day": None, "confidence": None,
            "score": None if r.episode is None else r.episode.score, "firing": r.firing, "result": doc}


def save(conn: Connection, results: Sequence[R], confidence: float | None = None) -> list[R]:
    """Store ``results`` as runs; returns them with their ``run_id`` set, in the same order."""
    if not results:
        return []
    ids = conn.execute(insert(runs).returning(runs.c.id, sort_by_parameter_order=True),
                       [_row(r, confidence) for r in results]).scalars().all()
    return [dataclasses.replace(r, run_id=int(i)) for r, i in zip(results, ids, strict=True)]


def _result(row: Any) -> Result:
    doc = row.result
    common = {"host_id": row.host_id, "hostname": doc.get("hostname") or row.host_id, "customer_id": row.customer_id,
              "series": row.series, "labels": dict(doc.get("labels") or {}),
              "window": InputWindow(row.window_start_ms / 1000, row.window_end_ms / 1000, row.step_s),
              "method": row.method, "computed_at": datetime.fromtimestamp(row.computed_ms / 1000, tz=UTC),
              "run_id": row.id}
    if row.kind == "capacity":
        return CapacityForecast(**common, result=Forecast(**doc["forecast"]),
                                points=tuple((float(a), float(b)) for a, b in doc.get("points") or ()))
    episode = doc.get("episode")
    return Anomaly(**common, firing=bool(row.firing), episode=None if episode is None else Episode(**episode))


def latest(conn: Connection, kind: RunKind, at: datetime | None = None, host_ids: Iterable[str] | None = None,
           customer: str | None = None) -> list[Result]:
    """The results of each host's newest pass (of ``kind``) computed at or before ``at`` (default: any time)."""
    newest = select(runs.c.host_id, func.max(runs.c.computed_ms).label("computed_ms")).where(runs.c.kind == kind)
    if at is not None:
        newest = newest.where(runs.c.computed_ms <= _ms(at.timestamp()))
    if host_ids is not None:
        newest = newest.where(runs.c.host_id.in_(list(host_ids)))
    if customer is not None:
        newest = newest.where(runs.c.customer_id == customer)
    sub = newest.group_by(runs.c.host_id).subquery()
    rows = conn.execute(select(runs).join(sub, and_(runs.c.host_id == sub.c.host_id,
                                                    runs.c.computed_ms == sub.c.computed_ms))
                        .where(runs.c.kind == kind)
                        .order_by(runs.c.host_id, runs.c.series, runs.c.labels, runs.c.id))
    return [_result(r) for r in rows]


def get(conn: Connection, run_id: int) -> Result | None:
    row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
    return None if row is None else _result(row)


def prune(conn: Connection, now: datetime, keep_every_s: float, keep_daily_s: float) -> int:
    """Bound the history: every run of the last ``keep_every_s``, then the last run of each day per
    series up to ``keep_daily_s`` (enough to regenerate last year's reports), nothing older.
    """
    now_ms = _ms(now.timestamp()) or 0
    gone = conn.execute(delete(runs).where(runs.c.computed_ms < now_ms - round(keep_daily_s * 1000))).rowcount
    day = runs.c.computed_ms // DAY_MS
    last_of_day = (select(func.max(runs.c.id))
                   .group_by(runs.c.host_id, runs.c.series, runs.c.labels, runs.c.kind, day))
    gone += conn.execute(delete(runs).where(runs.c.computed_ms < now_ms - round(keep_every_s * 1000),
                                            runs.c.id.not_in(last_of_day.scalar_subquery()))).rowcount
    return int(gone)
