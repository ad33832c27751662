"""Fix records (系统维护记录表) and the maintenance memo (系统维护备忘录) of an inspection run.

The contracts' scheduled-service flow: a problem fixed on the spot is recorded with its symptom,
analysis and fix steps; a problem that cannot be fixed now goes into the memo and becomes a
follow-up ticket. Here a run's findings open tickets per the policy as soon as the run completes
(:mod:`collector.tickets.handoff`); recording a fix closes the finding's open ticket with the record
as its closure, so what the memo lists is exactly the run's problems that are still someone's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from collector.findings.tables import maintenance_records
from collector.inspection import runs
from collector.inspection.runs import StoredFinding
from collector.tickets.model import Closure, Source, Ticket, fingerprint
from collector.tickets.policy import TicketPolicy
from collector.tickets.repository import load_ticket
from collector.tickets.service import TicketError, TicketService
from collector.tickets.tables import tickets
from inspections import ChecklistRow, Finding


class FixError(ValueError):
    """A fix record that cannot be stored as asked; the message says what to change."""


class AlreadyFixed(FixError):
    """The finding already has a maintenance record in this run."""


class FindingNotInRun(LookupError):
    """The finding named is not one of the run's."""


@dataclass(frozen=True)
class FixRecord:
    id: int
    run_id: int
    customer_id: str
    host_id: str | None
    check_id: str
    subject: str
    symptom: str
    analysis: str
    steps: str
    recorded_by: str
    recorded_at: datetime
    ticket_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_id": self.run_id, "customer_id": self.customer_id, "host_id": self.host_id,
                "check_id": self.check_id, "subject": self.subject, "symptom": self.symptom,
                "analysis": self.analysis, "steps": self.steps, "recorded_by": self.recorded_by,
                "recorded_at": self.recorded_at.isoformat(), "ticket_id": self.ticket_id}


def _record(r: Any) -> FixRecord:
    return FixRecord(id=r["id"], run_id=r["run_id"], customer_id=r["customer_id"], host_id=r["host_id"],
                     check_id=r["check_id"], subject=r["subject"], symptom=r["symptom"], analysis=r["analysis"],
                     steps=r["steps"], recorded_by=r["recorded_by"],
                     recorded_at=datetime.fromtimestamp(r["recorded_ms"] / 1000, tz=UTC), ticket_id=r["ticket_id"])


def fixes(conn: Connection, run_id: int) -> list[FixRecord]:
    rows = conn.execute(select(maintenance_records).where(maintenance_records.c.run_id == run_id)
                        .order_by(maintenance_records.c.id)).mappings()
    return [_record(r) for r in rows]


def find_finding(conn: Connection, run_id: int, ref: str) -> StoredFinding:
    """The problem finding ``ref`` of the run: its number in the memo, or ``HOST:CHECK[:SUBJECT]``
    (host id or hostname)."""
    problems = runs.stored_findings(conn, run_id, statuses=("critical", "warning", "unknown"))
    if ref.isdigit():
        found = [s for s in problems if s.id == int(ref)]
    else:
        host, _, rest = ref.partition(":")
        check, _, subject = rest.partition(":")
        names = {h["host_id"]: h["hostname"] for h in runs.host_results(conn, run_id)}
        found = [s for s in problems if host in (s.finding.host_id, names.get(s.finding.host_id))
                 and s.finding.check_id == check and s.finding.subject == subject]
    if len(found) != 1:
        listed = ", ".join(f"{s.id}" for s in problems) or "none"
        raise FindingNotInRun(f"inspection run {run_id} has no problem finding {ref!r}: name it by its number in "
                              f"'patrol findings memo {run_id}' ({listed}) or as HOST:CHECK[:SUBJECT]")
    return found[0]


def _fingerprint(f: Finding) -> str:
    return fingerprint(f.host_id, f.check_id, f.subject)


def record_fix(svc: TicketService, run_id: int, ref: str, symptom: str, analysis: str, steps: str,
               actor: str) -> FixRecord:
    """Store the record and close the finding's open ticket with it (cause: the analysis, solution: the steps)."""
    missing = [name for name, text in (("symptom", symptom), ("analysis", analysis), ("steps", steps))
               if not text.strip()]
    if missing:
        raise FixError(f"a maintenance record needs {', '.join(missing)} (问题的现象、分析、排除步骤)")
    now = svc.now()
    with svc.engine.begin() as conn:
        run = runs.get_run(conn, run_id)
        if run["status"] != "completed":
            raise FixError(f"inspection run {run_id} is {run['status']}: only the findings of a completed run "
                           "can be recorded as fixed")
        f = find_finding(conn, run_id, ref).finding
        t = maintenance_records.c
        if conn.execute(select(t.id).where(t.run_id == run_id, t.host_id == f.host_id, t.check_id == f.check_id,
                                           t.subject == f.subject)).first() is not None:
            raise AlreadyFixed(f"finding {ref!r} of run {run_id} is already recorded as fixed: see "
                           f"'patrol findings records {run_id}'")
        record_id = conn.execute(insert(maintenance_records).values(
            run_id=run_id, customer_id=run["customer_id"], host_id=f.host_id, check_id=f.check_id,
            subject=f.subject, symptom=symptom.strip(), analysis=analysis.strip(), steps=steps.strip(),
            recorded_by=actor, recorded_ms=round(now.timestamp() * 1000), ticket_id=None,
        ).returning(t.id)).scalar_one()
        open_ticket = conn.execute(select(tickets.c.id).where(tickets.c.open_fingerprint == _fingerprint(f))
                                   ).scalar_one_or_none()
    if open_ticket is not None:
        # The closure is the customer's to read (fault analysis of the quarterly report): in their language.
        customer = svc.customers.get(run["customer_id"])
        on_site = "巡检时现场排除：" if customer is not None and customer.language == "zh" else \
            "fixed on the spot during the inspection: "
        closure = Closure(cause=analysis.strip(), solution=steps.strip(), short_term=on_site + symptom.strip())
        try:
            svc.resolve(open_ticket, actor, f"fixed on the spot (maintenance record {record_id})", closure)
        except TicketError as exc:
            raise FixError(f"maintenance record {record_id} is stored, but ticket #{open_ticket} could not be "
                           f"resolved: {exc}") from None
        with svc.engine.begin() as conn:
            conn.execute(update(maintenance_records).where(t.id == record_id).values(ticket_id=open_ticket))
    with svc.engine.connect() as conn:
        return _record(conn.execute(select(maintenance_records).where(t.id == record_id)).mappings().one())


@dataclass(frozen=True)
class MemoItem:
    """One line of the maintenance memo: a problem of the run left for a follow-up ticket."""

    number: int | None  # the finding's number for 'patrol findings fix'; None for a checklist row
    host_id: str | None
    hostname: str | None
    check_id: str
    subject: str
    name: dict[str, str]
    status: str
    observed: float | None
    unit: str
    ticket: Ticket | None

    def to_dict(self) -> dict[str, Any]:
        t = self.ticket
        return {"number": self.number, "host_id": self.host_id, "hostname": self.hostname, "check_id": self.check_id,
                "subject": self.subject, "name": self.name, "status": self.status, "observed": self.observed,
                "unit": self.unit, "ticket_id": t.id if t else None, "ticket_state": t.state.value if t else None,
                "ticket_severity": t.severity.value if t else None}


def _ticket_for(conn: Connection, fp: str, since_ms: int) -> Ticket | None:
    """The open ticket of ``fp``, else the newest one touched since the run started."""
    c = tickets.c
    tid = conn.execute(select(c.id).where(c.fingerprint == fp, c.source == Source.INSPECTION.value,
                                          (c.open_fingerprint == fp) | (c.last_seen_ms >= since_ms))
                       .order_by(c.open_fingerprint.is_(None), c.id.desc()).limit(1)).scalar_one_or_none()
    return load_ticket(conn, tid) if tid is not None else None


def memo(conn: Connection, policy: TicketPolicy, run_id: int) -> list[MemoItem]:
    """The run's problems the policy opens tickets for, not recorded as fixed, with their follow-up tickets;
    then the checklist rows marked abnormal."""
    run = runs.get_run(conn, run_id)
    since_ms = round(datetime.fromisoformat(run["started"]).timestamp() * 1000) if run["started"] else 0
    fixed = {(r.host_id, r.check_id, r.subject) for r in fixes(conn, run_id)}
    names = {h["host_id"]: h["hostname"] for h in runs.host_results(conn, run_id)}
    out: list[MemoItem] = []
    for s in runs.stored_findings(conn, run_id, statuses=("critical", "warning", "unknown")):
        f = s.finding
        if (f.host_id, f.check_id, f.subject) in fixed:
            continue
        if not policy.decide(f.check_id, f.category, f.status, f.severity, run["customer_id"]).opens:
            continue
        out.append(MemoItem(s.id, f.host_id, names.get(f.host_id), f.check_id, f.subject, dict(f.name), f.status,
                            f.observed, f.unit, _ticket_for(conn, _fingerprint(f), since_ms)))
    out.extend(_checklist_items(conn, run_id, run["customer_id"], since_ms))
    return out


def _checklist_items(conn: Connection, run_id: int, customer_id: str, since_ms: int) -> list[MemoItem]:
    rows: list[ChecklistRow] = [r for r in runs.checklist_rows(conn, run_id) if r.result == "issue"]
    return [MemoItem(None, None, None, r.item_id, customer_id, dict(r.title), "issue", None, "",
                     _ticket_for(conn, fingerprint(None, r.item_id, customer_id), since_ms)) for r in rows]
