"""The periodic pass over open tickets: SLA warnings and breaches, escalation, the plan rule,
auto-resolution after the clear-for time, and the end of flapping.

Each warning, breach, escalation step and plan request is recorded exactly once (its moment is
stored), and its time is the exact moment it happened on the SLA clock, not when the pass ran. A
pass first looks at a ticket read-only and opens a write transaction only when something is due, so
evaluating a thousand quiet tickets costs a thousand reads, not a thousand commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from collector.tickets import repository as repo
from collector.tickets.calendar import business_seconds_between, deadline_after
from collector.tickets.messages import CLOCK_NAMES, duration, local_time
from collector.tickets.model import Ticket, to_ms
from collector.tickets.noise import clear_long_enough, track_flapping
from collector.tickets.service import SYSTEM, TicketService
from collector.tickets.sla import ClockRecord, clock_status, due_events, moment_of

log = logging.getLogger("patrol.tickets")
_CHUNK = 50


@dataclass
class EvaluationReport:
    warnings: list[tuple[int, str]] = field(default_factory=list)
    breaches: list[tuple[int, str]] = field(default_factory=list)
    escalations: list[tuple[int, int, str]] = field(default_factory=list)
    plans: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    flapping_stopped: list[int] = field(default_factory=list)
    evaluated: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def merge(self, other: EvaluationReport) -> None:
        for name in ("warnings", "breaches", "escalations", "plans", "resolved", "flapping_stopped"):
            getattr(self, name).extend(getattr(other, name))


class SlaEvaluator:
    def __init__(self, service: TicketService) -> None:
        self.service = service

    def evaluate(self) -> EvaluationReport:
        s = self.service
        report = EvaluationReport()
        now = s.now()
        with s.lock:
            with s.engine.connect() as conn:
                ids = repo.open_ticket_ids(conn)
                due = [i for i in ids if self._ticket(conn, i, now, None)]
            report.evaluated = len(ids)
            # Commits are what costs (a durable commit each); a Monday-morning wave of breaches is
            # written in chunks. A chunk that fails is redone ticket by ticket, so one bad ticket
            # cannot hold back the others.
            for i in range(0, len(due), _CHUNK):
                chunk = due[i:i + _CHUNK]
                try:
                    part = EvaluationReport()
                    with s.engine.begin() as conn:
                        for ticket_id in chunk:
                            self._ticket(conn, ticket_id, now, part)
                    report.merge(part)
                except Exception:
                    log.exception("event=sla_chunk_failed tickets=%d (retrying one by one)", len(chunk))
                    for ticket_id in chunk:
                        part = EvaluationReport()
                        try:
                            with s.engine.begin() as conn:
                                self._ticket(conn, ticket_id, now, part)
                            report.merge(part)
                        except Exception:
                            log.exception("event=sla_ticket_failed ticket=%d", ticket_id)
        return report

    def _ticket(self, conn: Connection, ticket_id: int, now: datetime, report: EvaluationReport | None) -> bool:
        """Find (report None) or do (report given) what is due for one ticket; True when something is."""
        s = self.service
        t = repo.load_ticket(conn, ticket_id, for_update=report is not None)
        if t is None or not t.is_open:
            return False
        work = False
        clocks = repo.load_clocks(conn, t.id)
        profile = s.ticket_profile(t)
        for rec in clocks.values():
            cal = profile.calendar_for(rec.clock)
            for kind, at in due_events(rec, cal, profile.warn_at, now):
                work = True
                if report is not None:
                    self._clock_event(conn, t, rec, kind, at, now, report)
        work |= self._plan_rule(conn, t, clocks, now, report)
        work |= self._escalate(conn, t, clocks, now, report)
        if t.flapping:
            n = s.cfg.noise
            st = track_flapping(t.flap_changes_ms, to_ms(now), n.flap_window, n.flap_threshold, True, False)
            if st.stopped:
                work = True
                if report is not None:
                    s.flap(conn, t, now, changed=False)
                    report.flapping_stopped.append(t.id)
        n = s.cfg.noise
        if n.auto_resolve and not t.firing and clear_long_enough(t.clear_since, now, n.clear_for):
            work = True
            if report is not None and s.maybe_auto_resolve(conn, s.get(t.id, conn), now):
                report.resolved.append(t.id)
        return work

    def _clock_event(self, conn: Connection, t: Ticket, rec: ClockRecord, kind: str, at: datetime, now: datetime,
                     report: EvaluationReport) -> None:
        s = self.service
        profile = s.ticket_profile(t)
        st = clock_status(rec, profile.calendar_for(rec.clock), now)
        tz = s.timezone(t.customer_id)
        name = CLOCK_NAMES.get(rec.clock, rec.clock)
        details = {"clock": rec.clock, "at": at.isoformat(), "target_s": rec.target_s,
                   "deadline": st.deadline.isoformat() if st.deadline else None}
        if kind == "warning":
            rec.warned_at = at
            report.warnings.append((t.id, rec.clock))
            repo.append_timeline(conn, t.id, now, SYSTEM, "sla_warning", details)
            text = (f"{int(profile.warn_at * 100)} % of the {name} target ({duration(rec.target_s)}) is used; "
                    f"due {local_time(st.deadline, tz)}, {duration(st.remaining_s)} of service time left.")
            duty = s.cfg.escalation_for(t.customer_id)[:1]
            s.notify(conn, t, "sla_warning", f"{name} due {local_time(st.deadline, tz)}: {t.title}", text, now=now,
                     emails=tuple(duty[0].email) if duty else (), channels=tuple(duty[0].channels) if duty else ())
        else:
            rec.breached_at = at
            report.breaches.append((t.id, rec.clock))
            repo.append_timeline(conn, t.id, now, SYSTEM, "sla_breach", details)
            text = f"The {name} target of {duration(rec.target_s)} passed at {local_time(at, tz)}."
            s.notify(conn, t, "sla_breach", f"{name} SLA breached: {t.title}", text, now=now)
        repo.save_clock(conn, t.id, rec)

    def _plan_rule(self, conn: Connection, t: Ticket, clocks: dict[str, ClockRecord], now: datetime,
                   report: EvaluationReport | None) -> bool:
        """Not restored within ``plan_after`` → the customer gets a written plan and schedule."""
        s = self.service
        profile = s.ticket_profile(t)
        restore = clocks.get("restore")
        if profile.plan_after is None or t.plan_required_at is not None or restore is None or not restore.running:
            return False
        cal = profile.calendar_for("restore")
        at = moment_of(restore, cal, profile.plan_after, now)
        if at is None or at > now:
            return False
        if report is None:
            return True
        plan = ClockRecord(clock="plan", target_s=profile.plan_within)
        plan.start(at)
        repo.save_clock(conn, t.id, plan, new="plan" not in clocks)
        due = deadline_after(at, profile.plan_within, profile.calendar_for("plan")) if profile.plan_within else None
        repo.update_ticket(conn, t.id, {"plan_required_ms": to_ms(at), "updated_ms": to_ms(now)})
        tz = s.timezone(t.customer_id)
        repo.append_timeline(conn, t.id, now, SYSTEM, "plan_required", {
            "at": at.isoformat(), "due": due.isoformat() if due else None,
            "task": "send the customer a written plan and schedule (then: patrol ticket plan ID TEXT)"})
        report.plans.append(t.id)
        s.notify(conn, t, "plan_required",
                 f"not fixed within {duration(profile.plan_after)}: send the customer a plan", (
                     f"Service is not restored after {duration(profile.plan_after)}. The contract asks for a written "
                     f"plan and schedule to the customer" + (f" by {local_time(due, tz)}." if due else ".")),
                 now=now)
        return True

    def _escalate(self, conn: Connection, t: Ticket, clocks: dict[str, ClockRecord], now: datetime,
                  report: EvaluationReport | None) -> bool:
        """Walk the escalation chain from the first breach: step i once ``after`` has passed since it."""
        s = self.service
        breaches = [r.breached_at for r in clocks.values() if r.breached_at is not None]
        if not breaches:
            return False
        first = min(breaches)
        chain = s.cfg.escalation_for(t.customer_id)
        profile = s.ticket_profile(t)
        since = business_seconds_between(first, now, profile.calendar)
        level = t.escalation_level
        work = False
        for i in range(level + 1, len(chain)):
            step = chain[i]
            if since < step.after:
                break
            work = True
            if report is None:
                break
            level = i
            who = step.role + (f" ({step.name})" if step.name else "")
            repo.update_ticket(conn, t.id, {"escalation_level": level, "updated_ms": to_ms(now)})
            repo.append_timeline(conn, t.id, now, SYSTEM, "escalated", {
                "level": level, "role": step.role, "name": step.name, "breached_at": first.isoformat()})
            report.escalations.append((t.id, level, step.role))
            t = s.get(t.id, conn)
            s.notify(conn, t, "escalated", f"escalated to {who}: {t.title}",
                     f"An SLA of this ticket was breached at {local_time(first, s.timezone(t.customer_id))}; "
                     f"escalation level {level} of {len(chain) - 1}: {who}.",
                     emails=tuple(step.email), channels=tuple(step.channels), now=now)
        return work
