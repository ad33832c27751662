"""Tickets as the console shows them: views with SLA clocks and the next deadline, and the queue's
filters. Reads and writes go through :class:`collector.tickets.service.TicketService` (and its
repository); :func:`collector.tickets.api.ticket_view` builds a ticket's view as the API does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.tickets import repository as repo
from collector.tickets.api import ticket_view
from collector.tickets.model import Severity, Ticket
from collector.tickets.runner import service_for
from collector.tickets.service import TicketService
from collector.tickets.sla import clock_status

# The clocks whose deadline the board counts down to (the on-site and plan clocks are shown on the ticket).
DEADLINE_CLOCKS = ("respond", "restore", "resolve")
LIVE = ("running", "paused", "breached")


@dataclass(frozen=True)
class Deadline:
    clock: str
    at: datetime | None  # None: the clock is paused outside service hours, or breached without a moment
    remaining_s: float | None
    status: str  # running | paused | breached


def tickets_of(app: Any) -> TicketService:
    return service_for(app)


def next_deadline(svc: TicketService, t: Ticket) -> Deadline | None:
    """The soonest deadline among the ticket's running respond/restore/resolve clocks (a breached one first)."""
    if not t.is_open:
        return None
    now = svc.now()
    profile = svc.ticket_profile(t)
    with svc.engine.connect() as conn:
        clocks = repo.load_clocks(conn, t.id)
    best: Deadline | None = None
    for rec in clocks.values():
        if rec.clock not in DEADLINE_CLOCKS:
            continue
        st = clock_status(rec, profile.calendar_for(rec.clock), now)
        if st.status not in LIVE or st.target_s is None:
            continue
        remaining = st.remaining_s if st.remaining_s is not None else st.target_s - st.elapsed_s
        d = Deadline(rec.clock, st.deadline, remaining, st.status)
        if best is None or (d.remaining_s or 0) < (best.remaining_s or 0):
            best = d
    return best


def urgency_key(t: Ticket, d: Deadline | None) -> tuple[float, int, int]:
    """Board order: soonest (or most overdue) deadline first, then severity, then age."""
    return (d.remaining_s if d is not None and d.remaining_s is not None else float("inf"),
            Severity(t.severity).rank, t.id)


def filter_tickets(rows: Sequence[Ticket], *, severity: str = "", source: str = "", text: str = "") -> list[Ticket]:
    needle = text.strip().lower()
    out = []
    for t in rows:
        if severity and t.severity.value != severity:
            continue
        if source and t.source.value != source:
            continue
        if needle and needle not in f"#{t.id} {t.title} {t.subject} {t.assignee or ''}".lower():
            continue
        out.append(t)
    return out


def view(svc: TicketService, t: Ticket) -> dict[str, Any]:
    return ticket_view(svc, t)
