"""Reading and writing tickets, timelines, clocks and maintenance windows (SQLAlchemy Core).

Every function takes the caller's connection, so one ticket change, its timeline entries, its clocks
and its notifications commit together. ``for_update`` locks the row on PostgreSQL and is a no-op on
SQLite (whose single writer serialises anyway).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, insert, select, update

from collector.tickets.model import (
    Classification,
    Closure,
    Registration,
    Satisfaction,
    Severity,
    Source,
    State,
    Ticket,
    TimelineEntry,
    to_ms,
    utc,
)
from collector.tickets.noise import MaintenanceWindow
from collector.tickets.sla import ClockRecord
from collector.tickets.tables import maintenance_windows, ticket_clocks, ticket_timeline, tickets


def _dt(ms: int | None) -> datetime | None:
    return utc(ms)


def row_to_ticket(r: Any) -> Ticket:
    m = r._mapping if hasattr(r, "_mapping") else r
    created = utc(m["created_ms"])
    assert created is not None
    return Ticket(
        id=m["id"], fingerprint=m["fingerprint"], customer_id=m["customer_id"], host_id=m["host_id"],
        check_id=m["check_id"], subject=m["subject"], source=Source(m["source"]), title=m["title"],
        severity=Severity(m["severity"]), state=State(m["state"]), sla_profile=m["sla_profile"],
        registration=Registration.from_dict(m["registration"]),
        classification=Classification.from_dict(m["classification"]),
        closure=Closure.from_dict(m["closure"]), satisfaction=Satisfaction.from_dict(m["satisfaction"]),
        details=m["details"] or {}, forecast=m["forecast"], assignee=m["assignee"], reporter=m["reporter"],
        created_at=created, updated_at=utc(m["updated_ms"]) or created, resolved_at=_dt(m["resolved_ms"]),
        resolved_by=m["resolved_by"],
        closed_at=_dt(m["closed_ms"]), occurrences=m["occurrences"], last_seen_at=utc(m["last_seen_ms"]) or created,
        firing=bool(m["firing"]), clear_since=_dt(m["clear_since_ms"]), flapping=bool(m["flapping"]),
        flap_changes_ms=list(m["flap_changes"] or []), escalation_level=m["escalation_level"],
        resume_state=State(m["resume_state"]) if m["resume_state"] else None, repeat_of=m["repeat_of"],
        plan_required_at=_dt(m["plan_required_ms"]), plan_sent_at=_dt(m["plan_sent_ms"]),
        last_repeat_note_at=_dt(m["last_repeat_note_ms"]), repeats_since_note=m["repeats_since_note"],
    )


def _locked(q: Select[Any], for_update: bool) -> Select[Any]:
    return q.with_for_update() if for_update else q


def load_ticket(conn: Connection, ticket_id: int, for_update: bool = False) -> Ticket | None:
    row = conn.execute(_locked(select(tickets).where(tickets.c.id == ticket_id), for_update)).first()
    return row_to_ticket(row) if row else None


def find_open(conn: Connection, fp: str, for_update: bool = False) -> Ticket | None:
    row = conn.execute(_locked(select(tickets).where(tickets.c.open_fingerprint == fp), for_update)).first()
    return row_to_ticket(row) if row else None


def open_fingerprints(conn: Connection) -> set[str]:
    return {r[0] for r in conn.execute(select(tickets.c.open_fingerprint)
                                       .where(tickets.c.open_fingerprint.is_not(None)))}


def latest_resolved(conn: Connection, fp: str, since: datetime) -> Ticket | None:
    row = conn.execute(select(tickets).where(tickets.c.fingerprint == fp, tickets.c.state == State.RESOLVED.value,
                                             tickets.c.resolved_ms >= to_ms(since))
                       .order_by(tickets.c.id.desc()).limit(1)).first()
    return row_to_ticket(row) if row else None


def previous_ticket_id(conn: Connection, fp: str) -> int | None:
    return conn.execute(select(func.max(tickets.c.id)).where(tickets.c.fingerprint == fp)).scalar()


def insert_ticket(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(tickets).values(**values))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def update_ticket(conn: Connection, ticket_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(**values))


def list_tickets(conn: Connection, customer: str | None = None, state: str | None = None, open_only: bool = False,
                 host: str | None = None, limit: int = 200) -> list[Ticket]:
    q = select(tickets).order_by(tickets.c.id.desc()).limit(limit)
    if customer:
        q = q.where(tickets.c.customer_id == customer)
    if host:
        q = q.where(tickets.c.host_id == host)
    if state:
        q = q.where(tickets.c.state == state)
    if open_only:
        q = q.where(tickets.c.open_fingerprint.is_not(None))
    return [row_to_ticket(r) for r in conn.execute(q)]


def open_ticket_ids(conn: Connection) -> list[int]:
    return [r[0] for r in conn.execute(select(tickets.c.id).where(tickets.c.open_fingerprint.is_not(None))
                                       .order_by(tickets.c.id))]


# -- timeline ----------------------------------------------------------------------------------


def append_timeline(conn: Connection, ticket_id: int, at: datetime, actor: str, action: str,
                    details: dict[str, Any] | None = None) -> None:
    conn.execute(insert(ticket_timeline).values(ticket_id=ticket_id, ts_ms=to_ms(at), actor=actor, action=action,
                                                details=details or {}))


def timeline(conn: Connection, ticket_id: int) -> list[TimelineEntry]:
    t = ticket_timeline.c
    rows = conn.execute(select(ticket_timeline).where(t.ticket_id == ticket_id).order_by(t.id)).all()
    out = []
    for r in rows:
        at = utc(r.ts_ms)
        assert at is not None
        out.append(TimelineEntry(id=r.id, ticket_id=r.ticket_id, at=at, actor=r.actor, action=r.action,
                                 details=r.details or {}))
    return out


# -- clocks ------------------------------------------------------------------------------------


def load_clocks(conn: Connection, ticket_id: int) -> dict[str, ClockRecord]:
    out: dict[str, ClockRecord] = {}
    for r in conn.execute(select(ticket_clocks).where(ticket_clocks.c.ticket_id == ticket_id)):
        intervals: list[tuple[datetime, datetime | None]] = []
        for a, b in r.intervals:
            start = utc(a)
            assert start is not None
            intervals.append((start, utc(b)))
        out[r.clock] = ClockRecord(clock=r.clock, target_s=r.target_s, intervals=intervals,
                                   stop_reason=r.stop_reason, warned_at=utc(r.warned_ms),
                                   breached_at=utc(r.breached_ms))
    return out


def save_clock(conn: Connection, ticket_id: int, rec: ClockRecord, new: bool = False) -> None:
    values = {"target_s": rec.target_s, "intervals": rec.to_json(), "stop_reason": rec.stop_reason,
              "warned_ms": to_ms(rec.warned_at) if rec.warned_at else None,
              "breached_ms": to_ms(rec.breached_at) if rec.breached_at else None}
    if new:
        conn.execute(insert(ticket_clocks).values(ticket_id=ticket_id, clock=rec.clock, **values))
    else:
        conn.execute(update(ticket_clocks).where(and_(ticket_clocks.c.ticket_id == ticket_id,
                                                      ticket_clocks.c.clock == rec.clock)).values(**values))


# -- maintenance windows -----------------------------------------------------------------------


def stored_windows(conn: Connection, now: datetime) -> list[MaintenanceWindow]:
    t = maintenance_windows.c
    rows = conn.execute(select(maintenance_windows).where(t.deleted_ms.is_(None))
                        .where((t.end_ms.is_(None)) | (t.end_ms > to_ms(now))).order_by(t.id)).all()
    return [MaintenanceWindow(customer=r.customer, host=r.host, check=r.check_id, start=utc(r.start_ms),
                              end=utc(r.end_ms), weekdays=frozenset(r.weekdays) if r.weekdays is not None else None,
                              hours=tuple(r.hours) if r.hours else None,  # type: ignore[arg-type]
                              timezone=r.timezone, reason=r.reason, id=r.id, created_by=r.created_by)
            for r in rows]


def insert_window(conn: Connection, w: MaintenanceWindow, now: datetime) -> int:
    result = conn.execute(insert(maintenance_windows).values(
        customer=w.customer, host=w.host, check_id=w.check, start_ms=to_ms(w.start) if w.start else None,
        end_ms=to_ms(w.end) if w.end else None, weekdays=sorted(w.weekdays) if w.weekdays is not None else None,
        hours=list(w.hours) if w.hours else None, timezone=w.timezone, reason=w.reason, created_by=w.created_by,
        created_ms=to_ms(now)))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def delete_window(conn: Connection, window_id: int, now: datetime) -> bool:
    t = maintenance_windows.c
    n = conn.execute(update(maintenance_windows).where(t.id == window_id, t.deleted_ms.is_(None))
                     .values(deleted_ms=to_ms(now))).rowcount
    return bool(n)
