"""``/portal``: the customer portal — one customer's hosts, tickets, reports, requests and ratings.

Every route takes the ``Customer`` session and reads through :mod:`collector.console.portal_data`,
which filters by ``session.user.customer_id``: another customer's host, ticket or report answers
404, exactly like an id that does not exist. Times are shown in the customer's zone, texts in the
login's language; internal identifiers (check ids, series, fingerprints) never reach the page.
Writes (a request, a rating) are CSRF-checked by the session dependency and audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Form, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from collector.console import portal_data as data
from collector.console.auth import Console, Customer
from collector.console.i18n import zone
from collector.console.reports_page import document_response
from collector.console.routing import console_router
from collector.console.service import ConsoleService
from collector.console.sessions import Session
from collector.console.templating import render
from collector.tickets.model import Registration, Satisfaction, Severity, State
from collector.tickets.runner import service_for
from collector.tickets.service import ManualTicket, TicketError, TicketService

router = console_router(prefix="/portal")

RATEABLE = frozenset({State.RESOLVED, State.CUSTOMER_VERIFIED, State.ARCHIVED})
SEVERITIES = ("L4", "L3", "L2", "L1")


def tickets_of(console: ConsoleService) -> TicketService:
    return service_for(console.app)


def _cid(session: Session) -> str:
    return str(session.user.customer_id)


def page(request: Request, session: Session, console: ConsoleService, template: str, active: str,
         status_code: int = 200, **values: Any) -> Response:
    cid = _cid(session)
    return render(request, session, template, status_code=status_code, active=active,
                  tz=console.customer_timezone(cid), customer_name=console.customer_names().get(cid, cid),
                  **values)


def _overview(console: ConsoleService, cid: str) -> dict[str, Any]:
    app = console.app
    with console.engine.connect() as conn:
        hosts = data.customer_hosts(conn, cid, app.clock(), app.cfg.offline_after, app.ingestor.retention_s,
                                    console.customer_names().get(cid, cid))
        open_tickets = [t for t in data.customer_tickets(conn, tickets_of(console), cid) if t.ticket.is_open]
        reports = data.customer_reports(conn, cid, limit=5)
    summary = {"online": sum(h.status == "online" for h in hosts),
               "offline": sum(h.status != "online" for h in hosts),
               "problems": sum(h.problem for h in hosts), "open": len(open_tickets)}
    return {"hosts": hosts, "open_tickets": open_tickets, "reports": reports, "summary": summary}


@router.get("")
async def status_page(request: Request, session: Customer, console: Console) -> Response:
    values = await run_in_threadpool(_overview, console, _cid(session))
    return page(request, session, console, "portal/status.html", "nav.portal_status", **values)


def _host(console: ConsoleService, cid: str, host_id: str, lang: str) -> dict[str, Any]:
    app = console.app
    with console.engine.connect() as conn:
        if data.customer_host(conn, cid, host_id) is None:
            raise HTTPException(404, "error.not_found")
        hosts = data.customer_hosts(conn, cid, app.clock(), app.cfg.offline_after, app.ingestor.retention_s,
                                    console.customer_names().get(cid, cid))
        host = next((h for h in hosts if h.id == host_id), None)
        if host is None:
            raise HTTPException(404, "error.not_found")
        return {"host": host, "values": data.latest_values(conn, host_id, lang),
                "tickets": data.customer_tickets(conn, tickets_of(console), cid, host_id=host_id, limit=50)}


@router.get("/hosts/{host_id}")
async def host_page(request: Request, session: Customer, console: Console, host_id: str) -> Response:
    values = await run_in_threadpool(_host, console, _cid(session), host_id, session.user.language)
    return page(request, session, console, "portal/host.html", "nav.portal_status", **values)


def _tickets(console: ConsoleService, cid: str) -> dict[str, Any]:
    with console.engine.connect() as conn:
        rows = data.customer_tickets(conn, tickets_of(console), cid)
    return {"open_rows": [t for t in rows if t.ticket.is_open], "past_rows": [t for t in rows if not t.ticket.is_open]}


@router.get("/tickets")
async def tickets_page(request: Request, session: Customer, console: Console) -> Response:
    values = await run_in_threadpool(_tickets, console, _cid(session))
    return page(request, session, console, "portal/tickets.html", "nav.portal_tickets", **values)


def _ticket(console: ConsoleService, cid: str, ticket_id: int) -> dict[str, Any]:
    with console.engine.connect() as conn:
        row = data.customer_ticket(conn, tickets_of(console), cid, ticket_id)
        if row is None:
            raise HTTPException(404, "error.not_found")
        return {"row": row, "history": data.customer_history(conn, ticket_id),
                "rateable": row.ticket.state in RATEABLE and row.ticket.satisfaction is None}


@router.get("/tickets/{ticket_id}")
async def ticket_page(request: Request, session: Customer, console: Console, ticket_id: int,
                      rated: int = 0) -> Response:
    values = await run_in_threadpool(_ticket, console, _cid(session), ticket_id)
    return page(request, session, console, "portal/ticket.html", "nav.portal_tickets", rated=bool(rated),
                error="", **values)


def _score(value: str) -> float | None:
    try:
        v = float(value)
    except ValueError:
        return None
    return v if 1 <= v <= 5 else None


@router.post("/tickets/{ticket_id}/rating")
async def rate(request: Request, session: Customer, console: Console, ticket_id: int,
               attitude: Annotated[str, Form(max_length=8)] = "", quality: Annotated[str, Form(max_length=8)] = "",
               resolution: Annotated[str, Form(max_length=8)] = "",
               comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    cid = _cid(session)
    values = await run_in_threadpool(_ticket, console, cid, ticket_id)  # 404 unless it is this customer's
    scores = [_score(v) for v in (attitude, quality, resolution)]
    error = ""
    if not values["rateable"]:
        error = "portal.rate.not_yet"
    elif any(s is None for s in scores):
        error = "portal.rate.invalid"
    if error:
        return page(request, session, console, "portal/ticket.html", "nav.portal_tickets", status_code=400,
                    rated=False, error=error, **values)
    actor = f"customer:{session.user.display_name or session.user.username}"
    a, q, r = (float(s or 0) for s in scores)
    rating = Satisfaction(attitude=a, quality=q, resolution=r, scale="5", comment=comment.strip(), rated_by=actor)
    svc = tickets_of(console)
    try:
        await run_in_threadpool(svc.rate, ticket_id, actor, rating)
    except TicketError as exc:
        await run_in_threadpool(console.audit, "console.portal.rate", session.user.username, action="rate",
                                args={"ticket": ticket_id}, outcome="refused", detail=str(exc))
        return page(request, session, console, "portal/ticket.html", "nav.portal_tickets", status_code=409,
                    rated=False, error="portal.rate.not_yet", **values)
    await run_in_threadpool(console.audit, "console.portal.rate", session.user.username, action="rate",
                            args={"ticket": ticket_id, "attitude": a, "quality": q, "resolution": r})
    return RedirectResponse(f"/portal/tickets/{ticket_id}?rated=1", status_code=303)


def _request_form(console: ConsoleService, cid: str) -> dict[str, Any]:
    app = console.app
    with console.engine.connect() as conn:
        hosts = data.customer_hosts(conn, cid, app.clock(), app.cfg.offline_after, app.ingestor.retention_s, cid)
    return {"hosts": sorted(hosts, key=lambda h: h.hostname), "severities": SEVERITIES}


@router.get("/requests/new")
async def request_form(request: Request, session: Customer, console: Console) -> Response:
    values = await run_in_threadpool(_request_form, console, _cid(session))
    return page(request, session, console, "portal/request.html", "nav.portal_request", error="", form={},
                **values)


def parse_local(text: str, tz_name: str) -> datetime | None:
    """A ``datetime-local`` field's value (wall time in the customer's zone) as an aware datetime."""
    if not text.strip():
        return None
    naive = datetime.fromisoformat(text.strip())
    return naive.replace(tzinfo=zone(tz_name)) if naive.tzinfo is None else naive


@router.post("/requests")
async def open_request(request: Request, session: Customer, console: Console,
                       title: Annotated[str, Form(max_length=200)] = "",
                       severity: Annotated[Literal["L1", "L2", "L3", "L4"], Form()] = "L3",
                       host: Annotated[str, Form(max_length=128)] = "",
                       contact: Annotated[str, Form(max_length=100)] = "",
                       phone: Annotated[str, Form(max_length=50)] = "",
                       description: Annotated[str, Form(max_length=10000)] = "",
                       occurred_at: Annotated[str, Form(max_length=32)] = "",
                       environment: Annotated[str, Form(max_length=2000)] = "",
                       reproduction_steps: Annotated[str, Form(max_length=10000)] = "",
                       impact_scope: Annotated[str, Form(max_length=2000)] = "") -> Response:
    cid = _cid(session)
    form = {"title": title, "severity": severity, "host": host, "contact": contact, "phone": phone,
            "description": description, "occurred_at": occurred_at, "environment": environment,
            "reproduction_steps": reproduction_steps, "impact_scope": impact_scope}
    error = ""
    occurred: datetime | None = None
    try:
        occurred = parse_local(occurred_at, console.customer_timezone(cid))
    except ValueError:
        error = "portal.request.bad_time"
    if not title.strip() or not description.strip():
        error = "portal.request.missing"

    def owned_host() -> str | None:
        with console.engine.connect() as conn:
            return host if host and data.customer_host(conn, cid, host) is not None else None

    host_id = await run_in_threadpool(owned_host)
    if host and host_id is None:
        raise HTTPException(404, "error.not_found")
    if error:
        values = await run_in_threadpool(_request_form, console, cid)
        return page(request, session, console, "portal/request.html", "nav.portal_request", status_code=400,
                    error=error, form=form, **values)
    reporter = f"customer:{contact.strip() or session.user.display_name or session.user.username}"
    reg = Registration(contact=contact.strip(), phone=phone.strip(), description=description.strip(),
                       occurred_at=occurred, environment=environment.strip(),
                       reproduction_steps=reproduction_steps.strip(), impact_scope=impact_scope.strip(), channel="web")
    ticket = await run_in_threadpool(tickets_of(console).create_manual, reporter, ManualTicket(
        customer_id=cid, title=title.strip(), description=description.strip(), severity=Severity.parse(severity),
        host_id=host_id, registration=reg, reporter=reporter))
    await run_in_threadpool(console.audit, "console.portal.request", session.user.username, host_id=host_id,
                            action="create", args={"ticket": ticket.id, "severity": severity})
    return RedirectResponse(f"/portal/tickets/{ticket.id}", status_code=303)


def _reports(console: ConsoleService, cid: str) -> list[dict[str, Any]]:
    with console.engine.connect() as conn:
        return data.customer_reports(conn, cid)


@router.get("/reports")
async def reports_page(request: Request, session: Customer, console: Console) -> Response:
    rows = await run_in_threadpool(_reports, console, _cid(session))
    return page(request, session, console, "portal/reports.html", "nav.portal_reports", rows=rows)


@router.get("/reports/{report_id}/{fmt}")
async def report_document(session: Customer, console: Console, report_id: int, fmt: str) -> Response:
    return await run_in_threadpool(document_response, console, report_id, fmt, customer_id=_cid(session))
