"""``/console/diagnostics``: choose a host and one of the actions agents offer, run it, watch its
output stream in, and see the audit entries it left.

Requests go through the collector's diagnostics router (:mod:`collector.diagnostics.router`) as the
logged-in user, so they are signed, limited and audited exactly like ``patrol diag``; the output
streams as newline-delimited JSON (the format of ``POST /api/v1/diag?stream=true``).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from collector.console.auth import Console, Engineer
from collector.console.routing import console_router
from collector.console.templating import render
from collector.diagnostics import api as diag_api
from collector.diagnostics.audit import audit_events
from collector.diagnostics.router import DiagError, DiagnosticsRouter
from collector.diagnostics.service import find_service
from collector.store import queries

router = console_router(prefix="/console")


class RunBody(BaseModel):
    host: str = Field(max_length=200)
    action: str = Field(max_length=64)
    args: dict[str, str] = Field(default_factory=dict)


def _router(console: Console) -> DiagnosticsRouter:
    service = find_service(console.app)
    if service is None or service.router is None:
        raise HTTPException(503, "remote diagnostics are not running on this collector (see its log)")
    return service.router


@router.get("/diagnostics")
async def page(request: Request, session: Engineer, console: Console, host: str = "") -> Response:
    app = console.app
    with console.engine.connect() as conn:
        hosts = queries.list_hosts(conn, app.clock(), app.cfg.offline_after)
    service = find_service(app)
    recent = []
    if service is not None and service.router is not None:
        recent = sorted((p.summary() for p in service.router.requests.values()), key=lambda p: -p["created_ms"])[:20]
    names = {h.id: h.hostname for h in hosts}
    return render(request, session, "diagnostics.html", active="nav.diagnostics", hosts=hosts, host=host,
                  actions=diag_api.actions(session.user.username), recent=recent, hostnames=names,
                  customers=console.customer_names(), running=service is not None and service.router is not None)


@router.post("/api/diag")
async def run(body: RunBody, session: Engineer, console: Console) -> StreamingResponse:
    """Start the request and stream its output (NDJSON: started, chunk…, final)."""
    diag = _router(console)
    args = {k: v for k, v in body.args.items() if k.strip() and v != ""}
    try:
        p = await diag.submit(body.host, body.action, args, session.user.username)
    except DiagError as e:
        raise HTTPException(e.code, str(e)) from None
    follow = diag_api._follow(diag, p, 0, session.user.username, started=True)
    return StreamingResponse(diag_api._ndjson(follow), media_type="application/x-ndjson",
                             headers={"X-Accel-Buffering": "no"})


@router.get("/api/diag/{request_id}/audit")
async def audit(request_id: str, session: Engineer, console: Console) -> list[dict[str, Any]]:
    """The audit log's rows of one request (request, result, cancellation), oldest first."""
    def read() -> list[dict[str, Any]]:
        with console.engine.connect() as conn:
            return list(reversed(audit_events(conn, request_id=request_id, limit=50)))

    return await run_in_threadpool(read)
