"""``/console/inspections``: runs, a run's findings grouped by the contract's five categories, its
manual checklist as a form, recording a fix made on the spot, and starting an inspection now.

Runs start through :class:`collector.inspection.service.InspectionService`, the checklist is saved
with :func:`collector.inspection.runs.set_checklist` (and handed to the tickets like the API does),
fixes are stored with :func:`collector.findings.records.record_fix`. Every write is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from collector.console.auth import Console, Engineer, Viewer
from collector.console.routing import console_router
from collector.console.sessions import Session
from collector.console.templating import render
from collector.findings import records
from collector.inspection import runs
from collector.inspection.runs import CHECKLIST_RESULTS, ChecklistUpdateError, RunNotFound, RunRequest
from collector.inspection.service import InspectionRequestError, InspectionService, service_of
from collector.tickets.handoff import checklist_updated
from collector.tickets.runner import service_for
from inspections.model import CATEGORIES, CATEGORY_TITLES

router = console_router(prefix="/console/inspections")
Text = Annotated[str, Form(max_length=10_000)]
PROFILES = ("monthly", "daily")


def _service(console: Console) -> InspectionService:
    service = service_of(console.app)
    if service is None:
        raise HTTPException(503, "inspections are disabled on this collector (inspections.enabled in collector.yaml)")
    return service


@router.get("")
async def runs_page(request: Request, session: Viewer, console: Console, customer: str = "") -> Response:
    service = _service(console)

    def read() -> list[dict[str, Any]]:
        with console.engine.connect() as conn:
            rows = runs.list_runs(conn, customer or None, None, 200)
        for r in rows:
            live = service.progress(r["id"])
            if live is not None and r["status"] in runs.ACTIVE:
                r["progress"] = {"done": live[0], "total": live[1]}
        return rows

    rows = await run_in_threadpool(read)
    return render(request, session, "inspections.html", active="nav.inspections", runs=rows, customer=customer,
                  customers=console.customer_names(), profiles=PROFILES)


@router.post("")
async def start(request: Request, session: Engineer, console: Console, customer: Annotated[str, Form()],
                profile: Annotated[str, Form()] = "") -> Response:
    service = _service(console)
    if customer not in console.customer_names() or (profile and profile not in PROFILES):
        raise HTTPException(400, f"unknown customer {customer!r} or profile {profile!r}")
    actor = session.user.username
    try:
        run_id = await run_in_threadpool(lambda: service.start_run(RunRequest(
            customer_id=customer, profile_ref=profile or service.default_profile(customer), trigger="manual",
            requested_by=actor)))
    except InspectionRequestError as e:
        raise HTTPException(400, str(e)) from None
    await run_in_threadpool(console.audit, "console.inspection.start", actor, action=profile or "default",
                            args={"customer": customer, "run": run_id})
    return RedirectResponse(f"/console/inspections/{run_id}", status_code=303)


def _run(console: Console, run_id: int) -> dict[str, Any]:
    with console.engine.connect() as conn:
        try:
            run = runs.get_run(conn, run_id)
        except RunNotFound:
            raise HTTPException(404, "error.not_found") from None
        problems = runs.stored_findings(conn, run_id, statuses=("critical", "warning", "unknown"))
        hosts = runs.host_results(conn, run_id)
        checklist = runs.checklist_rows(conn, run_id)
        fixes = records.fixes(conn, run_id)
    names = {h["host_id"]: h["hostname"] for h in hosts}
    fixed = {(f.host_id, f.check_id, f.subject) for f in fixes}
    groups = {c: [s for s in problems if s.finding.category == c] for c in CATEGORIES}
    return {"run": run, "hosts": hosts, "hostnames": names, "groups": groups, "checklist": checklist,
            "fixes": fixes, "fixed": fixed, "problems": problems}


async def _run_page(request: Request, session: Session, console: Console, run_id: int, *, error: str = "",
                    done: str = "", status_code: int = 200) -> Response:
    data = await run_in_threadpool(_run, console, run_id)
    service = service_of(console.app)
    live = service.progress(run_id) if service is not None else None
    return render(request, session, "inspection.html", active="nav.inspections", status_code=status_code,
                  error=error, done=done, categories=CATEGORIES, category_titles=CATEGORY_TITLES,
                  results=CHECKLIST_RESULTS, live=live, tz=console.customer_timezone(data["run"]["customer_id"]),
                  customer_name=console.customer_names().get(data["run"]["customer_id"], data["run"]["customer_id"]),
                  can_act=session.user.role in ("engineer", "admin"), **data)


@router.get("/{run_id}")
async def run_page(request: Request, run_id: int, session: Viewer, console: Console, done: str = "") -> Response:
    return await _run_page(request, session, console, run_id, done=done)


@router.post("/{run_id}/checklist")
async def save_checklist(request: Request, run_id: int, session: Engineer, console: Console) -> Response:
    form = await request.form()
    updates: list[tuple[str, str | None, str | None]] = []
    for key, value in form.multi_items():
        if key.startswith("result:") and isinstance(value, str):
            item = key.removeprefix("result:")
            remark = form.get(f"remark:{item}")
            updates.append((item, value or None, remark if isinstance(remark, str) else None))
    actor = session.user.username
    service = _service(console)
    try:
        rows = await run_in_threadpool(runs.set_checklist, service.engine, run_id, updates, actor,
                                       console.now_ms())
    except RunNotFound:
        raise HTTPException(404, "error.not_found") from None
    except ChecklistUpdateError as e:
        return await _run_page(request, session, console, run_id, error=str(e), status_code=400)
    with console.engine.connect() as conn:
        customer_id = runs.get_run(conn, run_id)["customer_id"]
    changed = {item.removeprefix("manual.") for item, _, _ in updates}
    await run_in_threadpool(checklist_updated, console.app, run_id, customer_id,
                            [r for r in rows if r.item_id.removeprefix("manual.") in changed])
    filled = sum(1 for _, result, _ in updates if result)
    await run_in_threadpool(console.audit, "console.inspection.checklist", actor,
                            args={"run": run_id, "rows": len(updates), "filled": filled})
    return RedirectResponse(f"/console/inspections/{run_id}?done=checklist", status_code=303)


@router.post("/{run_id}/fixes")
async def record_fix(request: Request, run_id: int, session: Engineer, console: Console,
                     finding: Annotated[str, Form(max_length=400)], symptom: Text, analysis: Text,
                     steps: Text) -> Response:
    actor = session.user.username
    try:
        fix = await run_in_threadpool(records.record_fix, service_for(console.app), run_id, finding, symptom,
                                      analysis, steps, actor)
    except (RunNotFound, records.FindingNotInRun):
        raise HTTPException(404, "error.not_found") from None
    except records.FixError as e:
        return await _run_page(request, session, console, run_id, error=str(e), status_code=409)
    await run_in_threadpool(console.audit, "console.inspection.fix", actor, host_id=fix.host_id,
                            action=fix.check_id, args={"run": run_id, "record": fix.id,
                                                       "ticket": fix.ticket_id or ""})
    return RedirectResponse(f"/console/inspections/{run_id}?done=fix", status_code=303)
