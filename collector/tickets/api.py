"""HTTP API of tickets, maintenance windows, SLA profiles and the notification outbox.

Viewers read; engineers change. The actor recorded on the timeline is the API token's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from collector.api_deps import Engineer, Viewer
from collector.notify.outbox import outbox_rows
from collector.params import BODY_CONFIG, StoreId
from collector.store import queries
from collector.tickets import repository as repo
from collector.tickets.calendar import CalendarError, parse_days
from collector.tickets.knowledge import knowledge_base
from collector.tickets.lifecycle import TRANSITIONS
from collector.tickets.model import (
    Classification,
    Closure,
    Registration,
    Satisfaction,
    Severity,
    State,
    Ticket,
)
from collector.tickets.noise import MaintenanceWindow, parse_range
from collector.tickets.service import ManualTicket, TicketConflict, TicketError, TicketNotFound, TicketService
from collector.tickets.sla import clock_status

router = APIRouter(prefix="/api/v1", tags=["tickets"])
T = TypeVar("T")


class _Body(BaseModel):
    model_config = BODY_CONFIG


class NoteBody(_Body):
    note: str = ""


class TextBody(_Body):
    text: str


class AssignBody(_Body):
    assignee: str
    note: str = ""


class TransitionBody(_Body):
    state: State
    note: str = ""


class ReopenBody(_Body):
    reason: str = ""


class ClosureBody(_Body):
    cause: str
    solution: str
    prevention: str = ""
    short_term: str = ""
    long_term: str = ""

    def closure(self) -> Closure:
        return Closure(**self.model_dump())


class ResolveBody(_Body):
    note: str = ""
    closure: ClosureBody | None = None


class ClassifyBody(_Body):
    fault_type: str | None = None
    cause: str | None = None
    maintenance_type: str | None = None
    billing: str | None = None
    severity: str | None = None
    on_site_required: bool | None = None


class RatingBody(_Body):
    attitude: float
    quality: float
    resolution: float
    scale: str = "5"
    comment: str = ""
    rated_by: str = ""


class RegistrationBody(_Body):
    customer_unit: str | None = None
    address: str | None = None
    phone: str | None = None
    contact: str | None = None
    description: str | None = None
    handling_status: str | None = None
    occurred_at: datetime | None = None
    environment: str | None = None
    reproduction_steps: str | None = None
    impact_scope: str | None = None
    channel: str | None = None


class ManualBody(_Body):
    customer_id: str
    title: str
    description: str = ""
    severity: str = "L3"
    host_id: str | None = None
    reporter: str | None = Field(None, description="who asked, e.g. customer:张三 (default: the token)")
    registration: RegistrationBody | None = None
    classification: ClassifyBody | None = None


class WindowBody(_Body):
    customer: str | None = None
    host: str | None = None
    check: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    days: str | None = None
    hours: str | None = None
    timezone: str | None = None
    reason: str = ""


def _service(request: Request) -> TicketService:
    from collector.tickets.runner import service_for

    return service_for(request.app.state.collector)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except TicketNotFound as e:
        raise HTTPException(404, str(e)) from None
    except TicketConflict as e:
        raise HTTPException(409, str(e)) from None
    except (TicketError, ValueError, CalendarError) as e:
        raise HTTPException(400, str(e)) from None


def _call(fn: Callable[[], T]) -> T:
    with _errors():
        return fn()


def ticket_view(svc: TicketService, t: Ticket) -> dict[str, Any]:
    now = svc.now()
    profile = svc.ticket_profile(t)
    with svc.engine.connect() as conn:
        timeline = repo.timeline(conn, t.id)
        clocks = repo.load_clocks(conn, t.id)
        names = queries.hostnames(conn, [t.host_id])
    order = {c: i for i, c in enumerate(("respond", "on_site", "restore", "resolve", "plan"))}
    statuses = [clock_status(rec, profile.calendar_for(rec.clock), now).to_dict()
                for rec in sorted(clocks.values(), key=lambda r: order.get(r.clock, 9))]
    chain = svc.cfg.escalation_for(t.customer_id)
    return {
        **t.to_dict(),
        "hostname": names.get(t.host_id) if t.host_id else None,
        "customer_name": svc.customer_name(t.customer_id),
        "timezone": svc.timezone(t.customer_id),
        "now": now.isoformat(),
        "profile": profile.to_dict(),
        "clocks": statuses,
        "escalation": [{"level": i, "role": s.role, "name": s.name, "reached": i <= t.escalation_level}
                       for i, s in enumerate(chain)],
        "allowed": sorted(s.value for s in TRANSITIONS[t.state]),
        "timeline": [e.to_dict() for e in timeline],
    }


@router.get("/tickets")
def list_tickets(request: Request, _: Viewer, customer: str | None = None, state: str | None = None,
                 host: str | None = None, open: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    if state is not None and state not in {s.value for s in State} | {"open"}:
        raise HTTPException(400, f"unknown state {state!r}: use one of {', '.join(s.value for s in State)} or open")
    svc = _service(request)
    with svc.engine.connect() as conn:
        rows = repo.list_tickets(conn, customer, None if state == "open" else state, open or state == "open", host,
                                 max(1, min(limit, 5000)))
        names = queries.hostnames(conn, [t.host_id for t in rows])
    return [{**t.summary(), "hostname": names.get(t.host_id) if t.host_id else None} for t in rows]


@router.post("/tickets")
def create_ticket(request: Request, actor: Engineer, body: ManualBody) -> dict[str, Any]:
    svc = _service(request)

    def make() -> Ticket:
        reg = None
        if body.registration is not None:
            reg = Registration.from_dict({k: (v.isoformat() if isinstance(v, datetime) else v)
                                          for k, v in body.registration.model_dump().items() if v is not None})
        cls = None
        if body.classification is not None:
            data = body.classification.model_dump(exclude={"severity"})
            cls = Classification.from_dict({k: v for k, v in data.items() if v is not None})
        return svc.create_manual(actor, ManualTicket(
            customer_id=body.customer_id, title=body.title, description=body.description,
            severity=Severity.parse(body.severity), host_id=body.host_id, registration=reg, classification=cls,
            reporter=body.reporter))

    return ticket_view(svc, _call(make))


@router.post("/tickets/evaluate")
def evaluate_now(request: Request, _: Engineer) -> dict[str, Any]:
    """Run the periodic pass now (offline agents, SLA clocks, escalation, auto-resolve)."""
    from collector.tickets.evaluate import SlaEvaluator
    from collector.tickets.offline import OfflineDetector

    svc = _service(request)
    app = request.app.state.collector
    detector = OfflineDetector(app.engine, svc.cfg.offline, app.cfg.offline_after, app.clock, started_at=0.0)
    ingest = svc.ingest(detector.signals())
    return {"ingest": ingest.to_dict(), "sla": SlaEvaluator(svc).evaluate().to_dict()}


@router.get("/tickets/{ticket_id}")
def get_ticket(request: Request, ticket_id: StoreId, _: Viewer) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.get(ticket_id)))


@router.post("/tickets/{ticket_id}/ack")
def ack(request: Request, ticket_id: StoreId, actor: Engineer, body: NoteBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.ack(ticket_id, actor, body.note)))


@router.post("/tickets/{ticket_id}/assign")
def assign(request: Request, ticket_id: StoreId, actor: Engineer, body: AssignBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.assign(ticket_id, actor, body.assignee, body.note)))


@router.post("/tickets/{ticket_id}/note")
def note(request: Request, ticket_id: StoreId, actor: Engineer, body: TextBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.note(ticket_id, actor, body.text)))


@router.post("/tickets/{ticket_id}/transition")
def transition(request: Request, ticket_id: StoreId, actor: Engineer, body: TransitionBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.transition(ticket_id, actor, body.state, body.note)))


@router.post("/tickets/{ticket_id}/resolve")
def resolve(request: Request, ticket_id: StoreId, actor: Engineer, body: ResolveBody) -> dict[str, Any]:
    svc = _service(request)
    closure = body.closure.closure() if body.closure else None
    return ticket_view(svc, _call(lambda: svc.resolve(ticket_id, actor, body.note, closure)))


@router.post("/tickets/{ticket_id}/verify")
def verify(request: Request, ticket_id: StoreId, actor: Engineer, body: NoteBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.verify(ticket_id, actor, body.note)))


@router.post("/tickets/{ticket_id}/close")
def close(request: Request, ticket_id: StoreId, actor: Engineer, body: NoteBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.close(ticket_id, actor, body.note)))


@router.post("/tickets/{ticket_id}/reopen")
def reopen(request: Request, ticket_id: StoreId, actor: Engineer, body: ReopenBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.reopen(ticket_id, actor, body.reason)))


@router.post("/tickets/{ticket_id}/classify")
def classify(request: Request, ticket_id: StoreId, actor: Engineer, body: ClassifyBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.classify(ticket_id, actor, **body.model_dump())))


@router.post("/tickets/{ticket_id}/registration")
def registration(request: Request, ticket_id: StoreId, actor: Engineer, body: RegistrationBody) -> dict[str, Any]:
    svc = _service(request)
    fields = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in body.model_dump().items()
              if v is not None}
    return ticket_view(svc, _call(lambda: svc.update_registration(ticket_id, actor, fields)))


@router.post("/tickets/{ticket_id}/closure")
def closure(request: Request, ticket_id: StoreId, actor: Engineer, body: ClosureBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.record_closure(ticket_id, actor, body.closure())))


@router.post("/tickets/{ticket_id}/satisfaction")
def satisfaction(request: Request, ticket_id: StoreId, actor: Engineer, body: RatingBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.rate(ticket_id, actor, Satisfaction(**body.model_dump()))))


@router.post("/tickets/{ticket_id}/plan")
def plan(request: Request, ticket_id: StoreId, actor: Engineer, body: TextBody) -> dict[str, Any]:
    svc = _service(request)
    return ticket_view(svc, _call(lambda: svc.record_plan(ticket_id, actor, body.text)))


@router.get("/maintenance")
def list_windows(request: Request, _: Viewer) -> list[dict[str, Any]]:
    svc = _service(request)
    now = svc.now()
    return [{**w.to_dict(), "active_now": w.active(now, svc.timezone(w.customer or ""))} for w in svc.windows()]


@router.post("/maintenance")
def add_window(request: Request, actor: Engineer, body: WindowBody) -> dict[str, Any]:
    svc = _service(request)

    def make() -> MaintenanceWindow:
        if not (body.customer or body.host or body.check):
            raise TicketError("name at least one of customer, host or check")
        if body.hours is None and (body.start is None or body.end is None):
            raise TicketError("give start and end (one-off) or hours such as 02:00-04:00 (recurring)")
        for t in (body.start, body.end):
            if t is not None and t.tzinfo is None:
                raise TicketError("start and end need a time zone offset, e.g. 2025-06-01T02:00:00+08:00")
        if body.start and body.end and body.end <= body.start:
            raise TicketError("end must be after start")
        w = MaintenanceWindow(customer=body.customer, host=body.host, check=body.check,
                              start=body.start if body.hours is None else None,
                              end=body.end if body.hours is None else None,
                              weekdays=parse_days(body.days) if body.days else None,
                              hours=parse_range(body.hours) if body.hours else None, timezone=body.timezone,
                              reason=body.reason)
        return svc.add_window(actor, w)

    return _call(make).to_dict()


@router.delete("/maintenance/{window_id}")
def delete_window(request: Request, window_id: StoreId, actor: Engineer) -> dict[str, Any]:
    svc = _service(request)
    _call(lambda: svc.delete_window(actor, window_id))
    return {"deleted": window_id}


@router.get("/sla/profiles")
def profiles(request: Request, _: Viewer) -> list[dict[str, Any]]:
    svc = _service(request)
    out = []
    for name in sorted(svc.cfg.all_profiles()):
        out.append({**svc.cfg.sla_profile(name).to_dict(),
                    "customers": sorted(c for c in svc.customers if svc.cfg.profile_name(c) == name)})
    return out


@router.get("/knowledge")
def knowledge(request: Request, _: Viewer, q: str = "", customer: str | None = None, limit: int = 50
              ) -> list[dict[str, Any]]:
    """常见问题及解决方案: resolved problems from ticket closures, most frequent first; ``q`` searches them."""
    svc = _service(request)
    if customer is not None and svc.customers and customer not in svc.customers:
        raise HTTPException(404, f"unknown customer {customer!r}")
    with svc.engine.connect() as conn:
        found = knowledge_base(conn, customer, q[:200])
    return [p.to_dict() for p in found[: max(1, min(limit, 1000))]]


@router.get("/notifications")
def notifications(request: Request, _: Viewer, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    svc = _service(request)
    with svc.engine.connect() as conn:
        return outbox_rows(conn, status, max(1, min(limit, 1000)))
