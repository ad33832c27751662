"""``/console/tickets``: the queue with filters, a ticket with its timeline and SLA clocks, its
actions (acknowledge, assign, comment, escalate, resolve with the closure fields) and registering a
ticket by hand with the 登记表 fields. Every action is audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from collector.console.auth import Console, Engineer, Viewer
from collector.console.i18n import zone
from collector.console.routing import console_router
from collector.console.sessions import Session
from collector.console.templating import render
from collector.console.ticketdata import filter_tickets, next_deadline, tickets_of, urgency_key, view
from collector.store import queries
from collector.tickets import repository as repo
from collector.tickets.model import Closure, Registration, Severity, Source, State, Ticket
from collector.tickets.service import ManualTicket, TicketError, TicketNotFound

router = console_router(prefix="/console/tickets")
Text = Annotated[str, Form(max_length=10_000)]
REGISTRATION_FIELDS = ("customer_unit", "address", "phone", "contact", "description", "handling_status",
                       "environment", "reproduction_steps", "impact_scope")
CHANNELS = ("hotline", "email", "dingtalk", "wecom", "web", "on_site")


def _queue(console: Console, customer: str, state: str, host: str) -> list[tuple[Ticket, Any]]:
    svc = tickets_of(console.app)
    open_only = state in ("", "open")
    with svc.engine.connect() as conn:
        rows = repo.list_tickets(conn, customer or None, None if open_only or state == "all" else state,
                                 open_only, host or None, limit=1000)
    return [(t, next_deadline(svc, t)) for t in rows]


@router.get("")
async def queue(request: Request, session: Viewer, console: Console, customer: str = "", state: str = "open",
                severity: str = "", source: str = "", host: str = "", q: str = "") -> Response:
    rows = await run_in_threadpool(_queue, console, customer, state, host)
    keep = {t.id for t in filter_tickets([t for t, _ in rows], severity=severity, source=source, text=q)}
    shown = sorted([(t, d) for t, d in rows if t.id in keep], key=lambda td: urgency_key(*td))
    with console.engine.connect() as conn:
        names = queries.hostnames(conn, [t.host_id for t, _ in shown])
    return render(request, session, "tickets.html", active="nav.tickets", rows=shown, hostnames=names,
                  customers=console.customer_names(), zones=console.customer_zones(), customer=customer,
                  state=state, severity=severity, source=source, host=host, q=q,
                  states=[s.value for s in State], severities=[s.value for s in Severity],
                  sources=[s.value for s in Source])


def _detail(console: Console, ticket_id: int) -> dict[str, Any]:
    svc = tickets_of(console.app)
    try:
        t = svc.get(ticket_id)
    except TicketNotFound:
        raise HTTPException(404, "error.not_found") from None
    return view(svc, t)


async def _detail_page(request: Request, session: Session, console: Console, ticket_id: int, *,
                       error: str = "", done: str = "", status_code: int = 200) -> Response:
    ticket = await run_in_threadpool(_detail, console, ticket_id)
    return render(request, session, "ticket.html", active="nav.tickets", ticket=ticket, error=error, done=done,
                  status_code=status_code, tz=ticket["timezone"], severities=[s.value for s in Severity],
                  can_act=session.user.role in ("engineer", "admin"))


@router.get("/new")
async def register_form(request: Request, session: Engineer, console: Console, customer: str = "",
                        host: str = "") -> Response:
    with console.engine.connect() as conn:
        hosts = queries.list_hosts(conn, console.app.clock(), console.app.cfg.offline_after)
    return render(request, session, "ticket_new.html", active="nav.tickets", customers=console.customer_names(),
                  hosts=hosts, customer=customer, host=host, fields=REGISTRATION_FIELDS, channels=CHANNELS,
                  severities=[s.value for s in Severity], error="", values={})


@router.post("/new")
async def register(request: Request, session: Engineer, console: Console,
                   customer_id: Annotated[str, Form()], title: Annotated[str, Form(max_length=500)],
                   severity: Annotated[str, Form()] = "L3", host_id: Annotated[str, Form()] = "",
                   channel: Annotated[str, Form()] = "", occurred_at: Annotated[str, Form()] = "",
                   reporter: Annotated[str, Form(max_length=200)] = "") -> Response:
    form = await request.form()
    fields = {k: str(form.get(k) or "").strip() for k in REGISTRATION_FIELDS}
    actor = session.user.username

    def create() -> Ticket:
        if customer_id not in console.customer_names():
            raise TicketError(f"unknown customer {customer_id!r}")
        when = None
        if occurred_at:
            when = datetime.fromisoformat(occurred_at).replace(tzinfo=zone(console.customer_timezone(customer_id)))
        reg = Registration(**fields, occurred_at=when, channel=channel)
        return tickets_of(console.app).create_manual(actor, ManualTicket(
            customer_id=customer_id, title=title.strip(), description=fields["description"],
            severity=Severity.parse(severity), host_id=host_id or None, registration=reg,
            reporter=reporter.strip() or actor))

    try:
        t = await run_in_threadpool(create)
    except (TicketError, ValueError) as e:
        with console.engine.connect() as conn:
            hosts = queries.list_hosts(conn, console.app.clock(), console.app.cfg.offline_after)
        return render(request, session, "ticket_new.html", active="nav.tickets", status_code=400,
                      customers=console.customer_names(), hosts=hosts, customer=customer_id, host=host_id,
                      fields=REGISTRATION_FIELDS, channels=CHANNELS, severities=[s.value for s in Severity],
                      error=str(e), values={**fields, "title": title, "severity": severity, "channel": channel,
                                            "occurred_at": occurred_at, "reporter": reporter})
    await run_in_threadpool(console.audit, "console.ticket.register", actor, host_id=t.host_id,
                            action=t.severity.value, args={"ticket": t.id, "customer": t.customer_id})
    return RedirectResponse(f"/console/tickets/{t.id}?done=register", status_code=303)


@router.get("/{ticket_id}")
async def detail(request: Request, ticket_id: int, session: Viewer, console: Console, done: str = "") -> Response:
    return await _detail_page(request, session, console, ticket_id, done=done)


async def _act(request: Request, session: Session, console: Console, ticket_id: int, what: str,
               change: Callable[[str], Any], args: dict[str, Any] | None = None) -> Response:
    """Apply one change as the logged-in user, audit it and show the ticket again."""
    actor = session.user.username
    try:
        t = await run_in_threadpool(change, actor)
    except TicketNotFound:
        raise HTTPException(404, "error.not_found") from None
    except (TicketError, ValueError) as e:
        await run_in_threadpool(console.audit, f"console.ticket.{what}", actor, outcome="refused",
                                args={"ticket": ticket_id, **(args or {})}, detail=str(e))
        return await _detail_page(request, session, console, ticket_id, error=str(e), status_code=409)
    await run_in_threadpool(console.audit, f"console.ticket.{what}", actor, host_id=getattr(t, "host_id", None),
                            args={"ticket": ticket_id, **(args or {})})
    return RedirectResponse(f"/console/tickets/{ticket_id}?done={what}", status_code=303)


@router.post("/{ticket_id}/ack")
async def ack(request: Request, ticket_id: int, session: Engineer, console: Console, note: Text = "") -> Response:
    svc = tickets_of(console.app)
    return await _act(request, session, console, ticket_id, "ack", lambda actor: svc.ack(ticket_id, actor, note))


@router.post("/{ticket_id}/assign")
async def assign(request: Request, ticket_id: int, session: Engineer, console: Console,
                 assignee: Annotated[str, Form(max_length=128)], note: Text = "") -> Response:
    svc = tickets_of(console.app)
    return await _act(request, session, console, ticket_id, "assign",
                      lambda actor: svc.assign(ticket_id, actor, assignee.strip(), note), {"assignee": assignee})


@router.post("/{ticket_id}/comment")
async def comment(request: Request, ticket_id: int, session: Engineer, console: Console, text: Text) -> Response:
    svc = tickets_of(console.app)
    return await _act(request, session, console, ticket_id, "comment", lambda actor: svc.note(ticket_id, actor, text))


@router.post("/{ticket_id}/escalate")
async def escalate(request: Request, ticket_id: int, session: Engineer, console: Console,
                   reason: Text = "") -> Response:
    """Raise the severity one level (三级 → 二级); the SLA clocks take the new level's targets."""
    svc = tickets_of(console.app)

    def change(actor: str) -> Ticket:
        t = svc.get(ticket_id)
        if t.severity.rank == 1:
            raise TicketError(f"ticket #{t.id} is already 一级 (L1): it cannot be escalated further")
        target = f"L{t.severity.rank - 1}"
        svc.classify(ticket_id, actor, severity=target)
        text = f"escalated {t.severity.value} → {target}" + (f": {reason}" if reason else "")
        return svc.note(ticket_id, actor, text)

    return await _act(request, session, console, ticket_id, "escalate", change, {"reason": reason})


@router.post("/{ticket_id}/resolve")
async def resolve(request: Request, ticket_id: int, session: Engineer, console: Console, cause: Text,
                  solution: Text, prevention: Text = "", short_term: Text = "", long_term: Text = "",
                  note: Text = "") -> Response:
    svc = tickets_of(console.app)
    closure = Closure(cause=cause.strip(), solution=solution.strip(), prevention=prevention.strip(),
                      short_term=short_term.strip(), long_term=long_term.strip())
    return await _act(request, session, console, ticket_id, "resolve",
                      lambda actor: svc.resolve(ticket_id, actor, note, closure))
