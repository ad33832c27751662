"""HTTP API of the maintenance record and memo of an inspection run.

    POST /api/v1/inspections/{id}/fixes   {finding, symptom, analysis, steps}   engineer → 201 record
    GET  /api/v1/inspections/{id}/fixes   the run's maintenance records (系统维护记录表)   viewer
    GET  /api/v1/inspections/{id}/memo    problems left for follow-up tickets (系统维护备忘录)   viewer

``finding`` is the finding's number in the memo or ``HOST:CHECK[:SUBJECT]``. Recording a fix
resolves the finding's open ticket with the record as its closure.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from collector.api_deps import Engineer, Viewer
from collector.findings import records
from collector.findings.records import AlreadyFixed, FindingNotInRun, FixError
from collector.inspection import runs
from collector.inspection.runs import RunNotFound
from collector.params import BODY_CONFIG, StoreId
from collector.tickets import ticket_service
from collector.tickets.service import TicketService

router = APIRouter(prefix="/api/v1/inspections", tags=["inspections"])


class FixBody(BaseModel):
    model_config = BODY_CONFIG

    finding: str = Field(min_length=1, description="the finding's number in the memo, or HOST:CHECK[:SUBJECT]")
    symptom: str = Field(min_length=1, description="问题的现象: what was seen")
    analysis: str = Field(min_length=1, description="分析: why it happened")
    steps: str = Field(min_length=1, description="排除步骤: what was done to fix it")


def _tickets(request: Request) -> TicketService:
    return ticket_service(request.app.state.collector)


@router.post("/{run_id}/fixes", status_code=201)
def record_fix(run_id: StoreId, body: FixBody, request: Request, who: Engineer) -> dict[str, Any]:
    try:
        return records.record_fix(_tickets(request), run_id, body.finding, body.symptom, body.analysis, body.steps,
                                  who).to_dict()
    except (RunNotFound, FindingNotInRun) as exc:
        raise HTTPException(404, str(exc)) from None
    except AlreadyFixed as exc:
        raise HTTPException(409, str(exc)) from None
    except FixError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/{run_id}/fixes")
def list_fixes(run_id: StoreId, request: Request, _: Viewer) -> list[dict[str, Any]]:
    with _tickets(request).engine.connect() as conn:
        try:
            runs.get_run(conn, run_id)
        except RunNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        return [r.to_dict() for r in records.fixes(conn, run_id)]


@router.get("/{run_id}/memo")
def get_memo(run_id: StoreId, request: Request, _: Viewer) -> list[dict[str, Any]]:
    svc = _tickets(request)
    with svc.engine.connect() as conn:
        try:
            return [m.to_dict() for m in records.memo(conn, svc.cfg.policy, run_id)]
        except RunNotFound as exc:
            raise HTTPException(404, str(exc)) from None
