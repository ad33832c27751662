"""What the customer portal reads: one customer's hosts, tickets with their SLA state, and reports.

Every function takes the customer id of the session and filters by it in the query itself; a host,
ticket or report of another customer is reported as missing (None), never as forbidden, so a guessed
id tells nothing about what exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.console import hostdata
from collector.console.fleet import FleetHost, fleet
from collector.console.hostdata import LatestValue
from collector.reporting import archive
from collector.reporting.tables import reports
from collector.store.schema import hosts
from collector.tickets import repository as repo
from collector.tickets.model import Ticket, TimelineEntry
from collector.tickets.service import TicketService
from collector.tickets.sla import ClockStatus, clock_status
from collector.tickets.tables import tickets
from inspections import catalogue

CLOCK_ORDER = ("respond", "on_site", "restore", "resolve", "plan")
# Timeline entries a customer sees; notes, notifications and escalations stay internal.
CUSTOMER_HISTORY = frozenset({"created", "state", "reopened", "satisfaction"})


@dataclass(frozen=True)
class SlaState:
    """A ticket's service-level state as the customer reads it: a message key and its values."""

    key: str
    clock: str | None = None
    deadline: datetime | None = None
    tone: str = "ok"  # ok | warn | bad


@dataclass
class PortalTicket:
    ticket: Ticket
    hostname: str | None
    sla: SlaState
    clocks: list[ClockStatus] = field(default_factory=list)

    def description(self) -> str:
        """The registered description with the host's agent id replaced by its hostname (system
        tickets name both)."""
        text = self.ticket.registration.description
        host = self.ticket.host_id
        if host:
            text = text.replace(f" ({host})", "").replace(host, self.hostname or "")
        return text


def customer_hosts(conn: Connection, customer_id: str, now_s: float, offline_after_s: float,
                   retention_s: dict[str, float], customer_name: str) -> list[FleetHost]:
    return fleet(conn, now_s, offline_after_s, retention_s, {customer_id: customer_name}, customer=customer_id)


def customer_host(conn: Connection, customer_id: str, host_id: str) -> dict[str, Any] | None:
    q = select(hosts).where(hosts.c.id == host_id, hosts.c.customer_id == customer_id)
    row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def latest_values(conn: Connection, host_id: str, lang: str) -> list[LatestValue]:
    """The latest value of each catalogued series of a host, in catalogue order."""
    rank = {name: i for i, name in enumerate(catalogue.catalogue().metrics)}
    out = [v for v in hostdata.latest_values(conn, host_id, lang) if v.name in rank]
    out.sort(key=lambda v: (rank[v.name], sorted(v.labels.items())))
    return out


def sla_state(t: Ticket, clocks: list[ClockStatus]) -> SlaState:
    """The one line a customer needs: which promise is due next, late, paused or how it ended."""
    if not clocks:
        return SlaState("portal.sla.none")
    if t.is_open:
        running = [c for c in clocks if c.running]
        late = [c for c in running if c.breached]
        if late:
            return SlaState("portal.sla.overdue", late[0].clock, None, "bad")
        paused = [c for c in running if c.paused]
        due = sorted((c for c in running if c.deadline is not None), key=lambda c: c.deadline or t.created_at)
        if due:
            return SlaState("portal.sla.due", due[0].clock, due[0].deadline, "warn" if paused else "ok")
        if paused:
            return SlaState("portal.sla.paused", paused[0].clock, None, "warn")
        return SlaState("portal.sla.none")
    if any(c.breached for c in clocks if c.clock != "plan"):
        return SlaState("portal.sla.missed", tone="warn")
    return SlaState("portal.sla.met")


def _with_sla(conn: Connection, svc: TicketService, rows: list[Ticket]) -> list[PortalTicket]:
    now = svc.now()
    names: dict[str, str] = {}
    ids = sorted({t.host_id for t in rows if t.host_id})
    if ids:
        names = {r.id: r.hostname for r in conn.execute(select(hosts.c.id, hosts.c.hostname)
                                                        .where(hosts.c.id.in_(ids)))}
    out = []
    for t in rows:
        profile = svc.ticket_profile(t)
        records = sorted(repo.load_clocks(conn, t.id).values(), key=lambda r: CLOCK_ORDER.index(r.clock)
                         if r.clock in CLOCK_ORDER else 9)
        clocks = [clock_status(r, profile.calendar_for(r.clock), now) for r in records]
        out.append(PortalTicket(t, names.get(t.host_id) if t.host_id else None, sla_state(t, clocks), clocks))
    return out


def customer_tickets(conn: Connection, svc: TicketService, customer_id: str, *, host_id: str | None = None,
                     limit: int = 200) -> list[PortalTicket]:
    rows = repo.list_tickets(conn, customer=customer_id, host=host_id, limit=limit)
    return _with_sla(conn, svc, [t for t in rows if t.customer_id == customer_id])


def customer_ticket(conn: Connection, svc: TicketService, customer_id: str, ticket_id: int) -> PortalTicket | None:
    row = conn.execute(select(tickets).where(tickets.c.id == ticket_id, tickets.c.customer_id == customer_id)).first()
    if row is None:
        return None
    return _with_sla(conn, svc, [repo.row_to_ticket(row)])[0]


def customer_history(conn: Connection, ticket_id: int) -> list[TimelineEntry]:
    return [e for e in repo.timeline(conn, ticket_id) if e.action in CUSTOMER_HISTORY]


def with_generated_ms(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Archive records with ``generated_ms`` (unix ms) next to the ISO ``generated``, for ``fmt_time``."""
    for r in rows:
        r["generated_ms"] = int(datetime.fromisoformat(r["generated"]).timestamp() * 1000) if r["generated"] else None
    return rows


def customer_reports(conn: Connection, customer_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The customer's completed reports, newest first."""
    return with_generated_ms([r for r in archive.list_reports(conn, customer_id, limit=limit)
                              if r["status"] == "completed" and r["customer_id"] == customer_id])


def owns_report(conn: Connection, customer_id: str, report_id: int) -> bool:
    row = conn.execute(select(reports.c.id).where(reports.c.id == report_id, reports.c.customer_id == customer_id,
                                                  reports.c.status == "completed")).first()
    return row is not None
