"""The collector's HTTP API (FastAPI), token-protected, used by the ``patrol`` CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from prometheus_client import generate_latest

from collector import metrics
from collector.api_deps import Admin, Viewer, resolve_host
from collector.apidocs import install_docs, install_root
from collector.params import parse_duration_param, parse_time, validation_error_response
from collector.store import queries
from collector.store.read import from_ms

if TYPE_CHECKING:
    from collector.app import CollectorApp

MIN_STEP = timedelta(seconds=1)


def create_api(app_state: CollectorApp) -> FastAPI:
    cfg = app_state.cfg
    api = FastAPI(title="Patrol collector API", version="1", docs_url=None, redoc_url=None)
    api.state.collector = app_state
    install_docs(api)
    api.add_exception_handler(RequestValidationError, validation_error_response)  # type: ignore[arg-type]

    def now() -> datetime:
        return datetime.fromtimestamp(app_state.clock(), tz=UTC)

    @api.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "collector_id": app_state.collector_id}

    @api.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> str:
        return generate_latest(metrics.REGISTRY).decode()

    @api.get("/api/v1/customers")
    def customers(_: Viewer) -> list[dict[str, Any]]:
        with app_state.engine.connect() as conn:
            return queries.list_customers(conn)

    @api.get("/api/v1/hosts")
    def hosts(_: Viewer, customer: str | None = None) -> list[dict[str, Any]]:
        with app_state.engine.connect() as conn:
            rows = queries.list_hosts(conn, app_state.clock(), cfg.offline_after, customer)
        return [r.to_dict() for r in rows]

    @api.get("/api/v1/hosts/{host}")
    def host(host: str, _: Viewer) -> dict[str, Any]:
        with app_state.engine.connect() as conn:
            row = resolve_host(conn, host)
            values = queries.latest_values(conn, row["id"])
        status = queries.host_status(row["connected"], row["last_seen_ms"], app_state.clock(), cfg.offline_after)
        return {
            "id": row["id"], "customer_id": row["customer_id"], "hostname": row["hostname"], "status": status,
            "source": row["source"], "labels": row["labels"], "facts": row["facts"],
            "agent_version": row["agent_version"], "spool": row["spool"], "rejected": row["rejected"] or {},
            "first_seen": from_ms(row["first_seen_ms"]), "last_seen": from_ms(row["last_seen_ms"]),
            "latest": values,
        }

    @api.get("/api/v1/hosts/{host}/series/{metric}")
    def host_series(host: str, metric: str, _: Viewer, since: str = "7d", until: str | None = None,
                    step: str = "1h", label: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
        t_now = now()
        t_since = parse_time(since, t_now, name="since")
        t_until = parse_time(until, t_now, default=t_now, name="until")
        step_s = parse_duration_param("step", step, minimum=MIN_STEP).total_seconds()
        if t_since >= t_until:
            raise HTTPException(400, "need since < until")
        wanted: dict[str, str] = {}
        for item in label or []:
            k, sep, v = item.partition("=")
            if not sep:
                raise HTTPException(400, f"label filter {item!r} must look like key=value")
            wanted[k] = v
        with app_state.engine.connect() as conn:
            row = resolve_host(conn, host)
            data = queries.series_points(conn, row["id"], metric, t_since.timestamp(), t_until.timestamp(),
                                         step_s, app_state.clock(), app_state.ingestor.retention_s, wanted)
        return {"host": row["id"], "hostname": row["hostname"], "metric": metric, "since": t_since, "until": t_until,
                "series": data}

    from collector.events_api import router as events_router
    from collector.routers import routers

    for router in [events_router, *routers()]:
        api.include_router(router)
    install_root(api)

    @api.post("/api/v1/admin/flush")
    def flush(_: Admin) -> dict[str, Any]:
        app_state.ingestor.flush_now()
        return {"flushed": True, "stats": app_state.ingestor.stats}

    return api
