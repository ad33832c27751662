"""HTTP API of remote diagnostics and the audit log. Requests, their output and the audit need the
engineer role; the public key and the action catalogue are readable by viewers.

``POST /api/v1/diag?stream=true`` answers with newline-delimited JSON as the results arrive:
``{"type": "started", …}``, then ``{"type": "chunk", "chunk": n, "data": <base64>}`` lines, ``{"type":
"wait"}`` keep-alives while the host is quiet, and ``{"type": "final", "status": …, "error": …,
"total_bytes": …}``. If the client goes away before the end, the request is cancelled on the host.
Without ``stream`` it answers at once with the request id; poll ``GET /api/v1/diag/{id}?after=n``
or follow ``GET /api/v1/diag/{id}/stream``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from collector.api_deps import Engineer, Viewer, lookup_host
from collector.diagnostics.audit import audit_events, audit_requests
from collector.diagnostics.router import DiagError, DiagnosticsRouter, Pending
from collector.diagnostics.service import DiagnosticsService, find_service
from collector.params import BODY_CONFIG, parse_time
from collector.store import queries
from collector.store.read import from_ms

router = APIRouter(prefix="/api/v1", tags=["diagnostics"])


class DiagBody(BaseModel):
    model_config = BODY_CONFIG

    host: str = Field(..., description="host id, or hostname when unambiguous")
    action: str
    args: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(None, description="default: the collector's default_timeout")
    max_output: int | None = Field(None, description="bytes; default: the collector's default_max_output")
    ttl_s: float | None = Field(None, description="how long the signed request stays valid (at most request_ttl)")


def _service(request: Request) -> DiagnosticsService:
    service = find_service(request.app.state.collector)
    if service is None or service.router is None or service.signer is None:
        raise HTTPException(503, "remote diagnostics are not running on this collector (see its log)")
    return service


def _router(request: Request) -> DiagnosticsRouter:
    router_ = _service(request).router
    assert router_ is not None
    return router_


def _public(p: Pending, after: int | None = None) -> dict[str, Any]:
    out = p.summary(after or 0)
    if after is None:
        out.pop("chunks")
    out["created_at"] = from_ms(p.created_ms)
    return out


def _ndjson(items: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        async for item in items:
            yield (json.dumps(item, default=str) + "\n").encode()

    return gen()


@router.get("/diag/key")
def public_key(request: Request, _: Viewer) -> dict[str, str]:
    """The public key agents pin as ``diagnostics.collector_key``."""
    signer = _service(request).signer
    assert signer is not None
    return {"public_key_pem": signer.public_pem().decode(), "fingerprint": signer.fingerprint}


@router.get("/diag/actions")
def actions(_: Viewer) -> list[dict[str, Any]]:
    """The actions agents offer (each agent's config decides which of them it allows)."""
    from agent.diagnostics.actions import ACTIONS
    from agent.diagnostics.config import ActionSwitches

    defaults = ActionSwitches()
    return [{"action": s.name, "summary": s.summary, "args": s.args,
             "on_by_default": defaults.enabled(s.name) if s.name != "command" else "when declared"}
            for s in ACTIONS.values()]


@router.post("/diag", status_code=202)
async def start(body: DiagBody, request: Request, engineer: Engineer, stream: bool = False) -> Any:
    router_ = _router(request)
    try:
        p = await router_.submit(body.host, body.action, body.args, engineer, timeout_s=body.timeout_s,
                                 max_output=body.max_output, ttl_s=body.ttl_s)
    except DiagError as e:
        raise HTTPException(e.code, str(e)) from None
    if not stream:
        return _public(p)
    return StreamingResponse(_ndjson(_follow(router_, p, 0, engineer, started=True)),
                             media_type="application/x-ndjson")


async def _follow(router_: DiagnosticsRouter, p: Pending, after: int, actor: str,
                  started: bool = False) -> AsyncIterator[dict[str, Any]]:
    if started:
        yield {"type": "started", **_public(p)}
    complete = False
    try:
        async for item in router_.follow(p, after):
            yield item
        complete = True
    finally:
        if not complete and p.status is None:
            # The client is gone (Ctrl-C, lost connection): nobody reads the output, so stop the work.
            router_.cancel_soon(p.request_id, f"{actor} (client disconnected)")


@router.get("/diag")
def recent(request: Request, _: Engineer, host: str | None = None) -> list[dict[str, Any]]:
    """Requests this collector is running or finished recently (without their output)."""
    router_ = _router(request)
    items = sorted(router_.requests.values(), key=lambda p: -p.created_ms)
    return [_public(p) for p in items if host is None or p.host_id == host]


@router.get("/diag/{request_id}")
def poll(request_id: str, request: Request, _: Engineer, after: int = 0) -> dict[str, Any]:
    """Status and the chunks from index ``after`` on."""
    try:
        return _public(_router(request).get(request_id), max(0, after))
    except DiagError as e:
        raise HTTPException(e.code, str(e)) from None


@router.get("/diag/{request_id}/stream")
async def follow(request_id: str, request: Request, engineer: Engineer, after: int = 0) -> StreamingResponse:
    router_ = _router(request)
    try:
        p = router_.get(request_id)
    except DiagError as e:
        raise HTTPException(e.code, str(e)) from None
    return StreamingResponse(_ndjson(_follow(router_, p, max(0, after), engineer)), media_type="application/x-ndjson")


@router.post("/diag/{request_id}/cancel")
async def cancel(request_id: str, request: Request, engineer: Engineer) -> dict[str, Any]:
    try:
        p = await _router(request).cancel(request_id, engineer)
    except DiagError as e:
        raise HTTPException(e.code, str(e)) from None
    return _public(p)


@router.get("/audit")
def audit(request: Request, _: Engineer, host: str | None = None, since: str = "7d", until: str | None = None,
          actor: str | None = None, limit: int = 200, events: bool = False) -> list[dict[str, Any]]:
    """The diagnostics audit log: one row per request (or every event with ``events=true``), newest first."""
    app = request.app.state.collector
    now = datetime.fromtimestamp(app.clock(), tz=UTC)
    lo = int(parse_time(since, now, name="since").timestamp() * 1000)
    hi = int(parse_time(until, now, default=now, name="until").timestamp() * 1000)
    limit = max(1, min(limit, 10_000))
    with app.engine.connect() as conn:
        # A host is named by id or hostname; one no longer known (or never registered) still filters by id.
        known = lookup_host(conn, host) if host else None
        host_id = known["id"] if known else host
        if events:
            rows = audit_events(conn, host=host_id, since_ms=lo, until_ms=hi, actor=actor, limit=limit)
        else:
            rows = audit_requests(conn, host=host_id, since_ms=lo, until_ms=hi, actor=actor, limit=limit)
        names = queries.hostnames(conn, (r.get("host_id") for r in rows))
    for r in rows:
        r["hostname"] = names.get(r.get("host_id") or "")
        r["at"] = from_ms(r.pop("at_ms"))
        if not events:
            r["finished_at"] = from_ms(r.pop("finished_ms"))
    return rows
