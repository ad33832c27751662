"""``/console/hosts/{id}``: one host — facts, latest values, charts, forecasts, log events, findings,
tickets — and ``/console/api/hosts/{id}/series`` (the charts' data)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from collector.api_deps import lookup_host
from collector.console import hostdata
from collector.console.auth import Console, Viewer
from collector.console.routing import console_router
from collector.console.templating import render
from collector.store import queries

router = console_router(prefix="/console")
DEFAULT_CHARTS = ("cpu.busy_percent", "mem.used_percent", "disk.used_percent")
RANGES = (("1h", 3600), ("6h", 6 * 3600), ("24h", 86400), ("7d", 7 * 86400), ("30d", 30 * 86400),
          ("90d", 90 * 86400), ("1y", 365 * 86400))


def _host(console: Console, ref: str) -> dict[str, Any]:
    with console.engine.connect() as conn:
        row = lookup_host(conn, ref)
    if row is None:
        raise HTTPException(404, "error.not_found")
    return row


def _page_data(console: Console, host_id: str, lang: str) -> dict[str, Any]:
    with console.engine.connect() as conn:
        values = hostdata.latest_values(conn, host_id, lang)
        return {"values": values, "metrics": hostdata.chart_metrics(values),
                "findings": hostdata.findings_history(conn, host_id),
                "events": hostdata.log_events(conn, host_id), "tickets": hostdata.host_tickets(conn, host_id)}


@router.get("/hosts/{host}")
async def host_page(request: Request, host: str, session: Viewer, console: Console) -> Response:
    row = await run_in_threadpool(_host, console, host)
    data = await run_in_threadpool(_page_data, console, row["id"], session.user.language)
    app = console.app
    status = queries.host_status(row["connected"], row["last_seen_ms"], app.clock(), app.cfg.offline_after)
    available = {name for name, _ in data["metrics"]}
    charts = [m for m in DEFAULT_CHARTS if m in available] or [name for name, _ in data["metrics"][:1]]
    return render(request, session, "host.html", active="nav.fleet", host=row, status=status,
                  customer_name=console.customer_names().get(row["customer_id"], row["customer_id"]),
                  tz=console.customer_timezone(row["customer_id"]), charts=charts, ranges=RANGES,
                  fact_rows=hostdata.fact_rows, **data)


@router.get("/api/hosts/{host}/series")
async def host_series(host: str, session: Viewer, console: Console, metric: str, since: float | None = None,
                      until: float | None = None, range_s: float = 86400) -> dict[str, Any]:
    """A window of ``metric``: ``until`` (unix s, default now) back to ``since`` (default ``until -
    range_s``)."""
    row = await run_in_threadpool(_host, console, host)
    app = console.app
    now = app.clock()
    end = min(until if until is not None else now, now + 400 * 86400)
    start = since if since is not None else end - range_s
    if start >= end:
        raise HTTPException(400, "need since < until")

    def read() -> dict[str, Any]:
        with console.engine.connect() as conn:
            return hostdata.chart_data(conn, row["id"], metric, start, end, now, app.ingestor.retention_s,
                                       session.user.language)

    return await run_in_threadpool(read)
