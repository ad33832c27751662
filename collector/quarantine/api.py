"""HTTP API of the quarantine: list held batches, fetch one with its raw bytes, retry one."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request

from collector.api_deps import Admin, Engineer, Viewer
from collector.quarantine.service import QuarantineError, QuarantineService
from collector.services import find_service
from collector.store import quarantine as repository

router = APIRouter()
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="quarantine entry id")]


def _service(request: Request) -> QuarantineService:
    service = find_service(request.app.state.collector, QuarantineService)
    if service is None:
        raise HTTPException(503, "the quarantine service is not running on this collector")
    return service


@router.get("/api/v1/quarantine")
def list_entries(request: Request, _: Viewer, host: str | None = None) -> dict[str, Any]:
    with request.app.state.collector.engine.connect() as conn:
        return {"entries": repository.listing(conn, host)}


@router.get("/api/v1/quarantine/{entry_id}")
def get_entry(entry_id: EntryId, request: Request, _: Engineer) -> dict[str, Any]:
    with request.app.state.collector.engine.connect() as conn:
        entry = repository.get(conn, entry_id)
    if entry is None:
        raise HTTPException(404, f"no quarantine entry {entry_id}: see 'patrol quarantine list'")
    doc = {k: v for k, v in entry.__dict__.items() if k != "payload"}
    return {"id": entry_id, **doc, "payload_base64": base64.b64encode(entry.payload).decode()}


@router.post("/api/v1/quarantine/{entry_id}/retry")
async def retry_entry(entry_id: EntryId, request: Request, _: Admin) -> dict[str, Any]:
    try:
        outcome = await _service(request).retry(entry_id)
    except QuarantineError as e:
        raise HTTPException(404 if "no quarantine entry" in str(e) else 409, str(e)) from None
    return {"id": entry_id, "outcome": outcome.value}
