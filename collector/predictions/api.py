"""HTTP API of the predictions: a host's current forecasts and anomaly states, the fleet's, one run, and
running the predictions pass now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from collector.api_deps import Admin, Viewer, resolve_host
from collector.params import parse_time
from collector.predictions import runs
from inspections.signals import CapacityForecast, RunKind

router = APIRouter()
RunId = Annotated[int, Path(ge=1, le=2**63 - 1, description="forecast run id")]
At = Annotated[str | None, Query(description="the newest pass at or before this time (ISO 8601); default: now")]


def _at(request: Request, at: str | None) -> datetime | None:
    now = datetime.fromtimestamp(request.app.state.collector.clock(), tz=UTC)
    return None if at is None else parse_time(at, now, name="at")


def _host_runs(request: Request, host: str, kind: RunKind, at: str | None) -> dict[str, Any]:
    with request.app.state.collector.engine.connect() as conn:
        row = resolve_host(conn, host)
        found = runs.latest(conn, kind, _at(request, at), host_ids=[row["id"]])
    return {"host": row["id"], "hostname": row["hostname"], "runs": [r.to_dict() for r in found]}


@router.get("/api/v1/hosts/{host}/forecasts")
def host_forecasts(host: str, request: Request, _: Viewer, at: At = None) -> dict[str, Any]:
    """The host's capacity forecasts from the newest predictions pass (the ones its tickets show)."""
    return _host_runs(request, host, "capacity", at)


@router.get("/api/v1/hosts/{host}/anomalies")
def host_anomalies(host: str, request: Request, _: Viewer, at: At = None) -> dict[str, Any]:
    """The host's anomaly states from the newest predictions pass."""
    return _host_runs(request, host, "anomaly", at)


@router.get("/api/v1/forecasts")
def fleet_forecasts(request: Request, _: Viewer, customer: str | None = None, at: At = None,
                    within_days: Annotated[float | None, Query(gt=0, le=3650, allow_inf_nan=False,
                                                             description="only crossings this close (days)")] = None
                    ) -> dict[str, Any]:
    """Capacity forecasts of every host (of ``customer``), soonest crossing first."""
    with request.app.state.collector.engine.connect() as conn:
        found = [r for r in runs.latest(conn, "capacity", _at(request, at), customer=customer)
                 if isinstance(r, CapacityForecast)]
    if within_days is not None:
        found = [f for f in found if f.eta is not None and f.eta - f.at <= timedelta(days=within_days)]
    found.sort(key=lambda f: (f.eta is None, f.eta or f.at, f.hostname, f.series, f.subject))
    return {"forecasts": [f.to_dict() for f in found]}


@router.get("/api/v1/forecasts/runs/{run_id}")
def get_run(run_id: RunId, request: Request, _: Viewer) -> dict[str, Any]:
    """One stored run: a forecast (with the forecaster's figures and its input) or an anomaly state."""
    with request.app.state.collector.engine.connect() as conn:
        found = runs.get(conn, run_id)
    if found is None:
        raise HTTPException(404, f"no forecast run {run_id}: see 'patrol forecasts'")
    out = found.to_dict()
    if isinstance(found, CapacityForecast):
        out["points"] = [list(p) for p in found.points]
    return out


@router.post("/api/v1/admin/predict")
def predict(request: Request, _: Admin, customer: str | None = None) -> dict[str, Any]:
    """Run capacity forecasts and anomaly scoring now (the ``predictions`` job also runs them on schedule)."""
    from collector.predictions.service import PredictService
    from collector.services import find_service

    app_state = request.app.state.collector
    return (find_service(app_state, PredictService) or PredictService(app_state)).run_once(customer)
