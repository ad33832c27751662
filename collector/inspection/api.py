"""HTTP API of inspections: start a run, list runs, read a run's findings, fill in its checklist.

    POST /api/v1/inspections                      {customer, profile?, hosts?}     engineer → 202 {id, …}
    GET  /api/v1/inspections?customer=&status=    runs, newest first               viewer
    GET  /api/v1/inspections/schedules            configured schedules, next runs  viewer
    GET  /api/v1/inspections/{id}?findings=       run, progress, hosts, findings   viewer
    GET  /api/v1/inspections/{id}/checklist       manual checklist rows            viewer
    PUT  /api/v1/inspections/{id}/checklist       {rows: [{item_id, result, remark}]}  engineer

``findings`` is ``problems`` (default: every finding that is not ok, with evidence and
recommendation), ``all`` or ``none``; ``progress`` is ``{done, total}`` hosts, live while running.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from collector.api_deps import Engineer, Viewer
from collector.inspection import runs
from collector.inspection.runs import ChecklistUpdateError, RunNotFound, RunRequest
from collector.inspection.service import InspectionRequestError, InspectionService, service_of
from collector.params import BODY_CONFIG, StoreId
from collector.tickets.handoff import checklist_updated

router = APIRouter(prefix="/api/v1/inspections", tags=["inspections"])


class RunBody(BaseModel):
    model_config = BODY_CONFIG

    customer: str = Field(min_length=1)
    profile: str | None = Field(None, description="monthly, daily or a profile YAML path on the collector")
    hosts: list[str] | None = Field(None, description="host ids or hostnames; default: every host of the customer")
    trigger: Literal["manual", "api"] = Field("api", description="manual when a person started it (the CLI)")
    period: str | None = Field(None, max_length=16, description="for a calendar profile (monthly): the month or "
                               "quarter to inspect, e.g. 2026-11; default: the running one up to now")


class ChecklistUpdate(BaseModel):
    model_config = BODY_CONFIG

    item_id: str
    # Checked by runs.set_checklist, whose message lists the rows and results that exist.
    result: str | None = Field(description="ok, issue or not_applicable; null clears the row")
    remark: str | None = None


class ChecklistBody(BaseModel):
    model_config = BODY_CONFIG

    rows: list[ChecklistUpdate] = Field(min_length=1)


def _service(request: Request) -> InspectionService:
    service = service_of(request.app.state.collector)
    if service is None:
        raise HTTPException(503, "inspections are disabled on this collector (inspections.enabled in collector.yaml)")
    return service


def _with_live_progress(service: InspectionService, run: dict[str, Any]) -> dict[str, Any]:
    live = service.progress(run["id"])
    if live is not None and run["status"] in runs.ACTIVE:
        run["progress"] = {"done": live[0], "total": live[1]}
    return run


@router.post("", status_code=202)
def start_run(body: RunBody, request: Request, who: Engineer) -> dict[str, Any]:
    service = _service(request)
    profile = body.profile or service.default_profile(body.customer)
    try:
        run_id = service.start_run(RunRequest(customer_id=body.customer, profile_ref=profile, trigger=body.trigger,
                                              requested_by=who, hosts=body.hosts or None,
                                              period=body.period))
    except InspectionRequestError as exc:
        raise HTTPException(400, str(exc)) from None
    with service.engine.connect() as conn:
        return _with_live_progress(service, runs.get_run(conn, run_id))


@router.get("")
def list_runs(request: Request, _: Viewer, customer: str | None = None, status: str | None = None,
              limit: int = 50) -> list[dict[str, Any]]:
    service = _service(request)
    with service.engine.connect() as conn:
        return [_with_live_progress(service, r)
                for r in runs.list_runs(conn, customer, status, max(1, min(limit, 1000)))]


@router.get("/schedules")
def schedules(request: Request, _: Viewer) -> list[dict[str, Any]]:
    return _service(request).scheduler.jobs()


@router.get("/{run_id}")
def get_run(run_id: StoreId, request: Request, _: Viewer, findings: Literal["problems", "all", "none"] = "problems",
            host: str | None = None) -> dict[str, Any]:
    service = _service(request)
    cfg = request.app.state.collector.cfg
    with service.engine.connect() as conn:
        try:
            run = _with_live_progress(service, runs.get_run(conn, run_id))
        except RunNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        run["hosts"] = runs.host_results(conn, run_id)
        host_id = None
        if host:
            host_id = next((h["host_id"] for h in run["hosts"] if host in (h["host_id"], h["hostname"])), None)
            if host_id is None:
                raise HTTPException(404, f"host {host!r} is not part of inspection run {run_id}")
        if findings != "none":
            statuses = ("critical", "warning", "unknown") if findings == "problems" else None
            run["findings"] = runs.findings(conn, run_id, statuses, host_id)
    customer = cfg.customer(run["customer_id"])
    run["customer_name"] = customer.name if customer else run["customer_id"]
    run["language"] = customer.language if customer else "en"
    return run


@router.get("/{run_id}/checklist")
def get_checklist(run_id: StoreId, request: Request, _: Viewer) -> list[dict[str, Any]]:
    service = _service(request)
    with service.engine.connect() as conn:
        try:
            runs.get_run(conn, run_id)
        except RunNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        return [r.to_dict() for r in runs.checklist_rows(conn, run_id)]


@router.put("/{run_id}/checklist")
def put_checklist(run_id: StoreId, body: ChecklistBody, request: Request, who: Engineer) -> list[dict[str, Any]]:
    service = _service(request)
    try:
        rows = runs.set_checklist(service.engine, run_id, [(u.item_id, u.result, u.remark) for u in body.rows],
                                  who, int(service.clock() * 1000))
    except RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ChecklistUpdateError as exc:
        raise HTTPException(400, str(exc)) from None
    with service.engine.connect() as conn:
        customer_id = runs.get_run(conn, run_id)["customer_id"]
    changed = {u.item_id.removeprefix("manual.") for u in body.rows}
    checklist_updated(request.app.state.collector, run_id, customer_id,
                      [r for r in rows if r.item_id.removeprefix("manual.") in changed])
    return [r.to_dict() for r in rows]
