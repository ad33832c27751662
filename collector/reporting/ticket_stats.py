"""Tickets of a report period: SLA outcomes, MTTR, repeat faults, satisfaction, as of the period's end.

A report shows a period as it stood at its end, also when it is regenerated months later: a
ticket's state and resolution time are replayed from its timeline up to that moment, and its SLA
clocks are cut there. A clock is *met* when its event happened within the target (service-window
time, so pauses outside the window count for nothing), *breached* when the target passed first
(also while still running), *running* while it still has time, *not applicable* when the ticket was
resolved before the event was needed, and *untracked* without a target ("case by case").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean, median

import numpy as np
from sqlalchemy import Connection, or_, select

from collector.tickets import repository as repo
from collector.tickets.calendar import business_seconds_between
from collector.tickets.config import TicketsConfig
from collector.tickets.model import OPEN_STATES, Closure, Satisfaction, Severity, Source, State, Ticket, to_ms
from collector.tickets.sla import ClockRecord, SlaProfile
from collector.tickets.tables import ticket_timeline, tickets
from reports.model import (
    Breakdown,
    ClockResult,
    DurationStats,
    HostRef,
    Measure,
    OpenRisk,
    RepeatFault,
    SatisfactionSummary,
    SeverityTime,
    SlaCompliance,
    TicketRow,
    TicketSummary,
)

REPORT_CLOCKS = ("respond", "on_site", "restore", "resolve", "plan")
TIME_CLOCKS = ("respond", "restore", "resolve")
REPEAT_WINDOW = timedelta(days=90)
SATISFACTION_TARGET = 85.0


@dataclass
class TicketView:
    ticket: Ticket
    state: State  # as of the period end
    resolved_at: datetime | None  # as of the period end
    clocks: tuple[ClockResult, ...]
    stopped_met: dict[str, float]  # clock -> elapsed service-window seconds when its event happened

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


def grouped_measures(closed: Sequence[tuple[int, str, Closure]]) -> tuple[Measure, ...]:
    """One entry per distinct set of measures among ``(ticket id, title, closure)``, the texts compared
    with their runs of white space as one space: a fault fixed the same way ten times is one entry of
    ten tickets. Most frequent first, then by first ticket."""
    groups: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    for ticket_id, title, c in sorted(closed, key=lambda item: item[0]):
        texts = (c.cause, c.solution, c.prevention, c.short_term, c.long_term)
        groups.setdefault(tuple(" ".join(t.split()) for t in texts), []).append((ticket_id, title))
    out = [Measure(ticket_ids=tuple(i for i, _ in members), titles=tuple(dict.fromkeys(t for _, t in members)),
                   cause=cause, solution=solution, prevention=prevention, short_term=short, long_term=long)
           for (cause, solution, prevention, short, long), members in groups.items()]
    return tuple(sorted(out, key=lambda m: (-len(m.ticket_ids), m.ticket_ids[0])))


def clock_result(rec: ClockRecord, profile: SlaProfile, at: datetime) -> tuple[ClockResult, float | None] | None:
    """The clock as of ``at`` and, when its event happened by then within any time, its elapsed seconds."""
    intervals = [(a, b if b is not None and b <= at else None) for a, b in rec.intervals if a < at]
    if not intervals:
        return None
    calendar = profile.calendar_for(rec.clock)
    elapsed = sum(business_seconds_between(a, b if b is not None else at, calendar) for a, b in intervals)
    running = intervals[-1][1] is None
    target = rec.target_s
    met_elapsed = elapsed if not running and rec.stop_reason == "met" else None
    if target is None:
        outcome = "untracked"
    elif running:
        outcome = "breached" if elapsed >= target else "running"
    elif rec.stop_reason == "met":
        outcome = "met" if elapsed <= target else "breached"
    else:
        outcome = "breached" if elapsed >= target else "not_applicable"
    return ClockResult(rec.clock, target, round(elapsed, 3), outcome), met_elapsed  # type: ignore[arg-type]


def duration_stats(clock: str, xs: Sequence[float]) -> DurationStats:
    """Count, mean, median, 90th percentile and longest of ``clock``'s durations."""
    if not xs:
        return DurationStats(clock, 0, None, None, None, None)
    return DurationStats(clock, len(xs), mean(xs), median(xs), float(np.percentile(xs, 90)), max(xs))


class TicketData:
    """The customer's tickets that matter for ``[start, until)``, replayed to ``until``."""

    def __init__(self, conn: Connection, cfg: TicketsConfig, customer_id: str, timezone: str, start: datetime,
                 until: datetime, hosts: Mapping[str, HostRef]) -> None:
        self.cfg = cfg
        self.timezone = timezone
        self.start = start
        self.until = until
        self.hosts = hosts
        self._profiles: dict[str, SlaProfile] = {}
        t = tickets.c
        lo, hi = to_ms(start), to_ms(until)
        rows = conn.execute(select(tickets).where(
            t.customer_id == customer_id, t.created_ms < hi,
            or_(t.created_ms >= lo - int(REPEAT_WINDOW.total_seconds() * 1000), t.resolved_ms.is_(None),
                t.resolved_ms >= lo, t.updated_ms >= lo)).order_by(t.id)).all()
        loaded = [repo.row_to_ticket(r) for r in rows]
        states = self._replay(conn, [x.id for x in loaded], hi)
        self.views: list[TicketView] = []
        for ticket in loaded:
            state, resolved_at = states.get(ticket.id, (State.REGISTERED, None))
            profile = self.profile(ticket.sla_profile)
            results: list[ClockResult] = []
            met: dict[str, float] = {}
            for name, rec in sorted(repo.load_clocks(conn, ticket.id).items(),
                                    key=lambda kv: REPORT_CLOCKS.index(kv[0]) if kv[0] in REPORT_CLOCKS else 99):
                got = clock_result(rec, profile, until)
                if got is None:
                    continue
                results.append(got[0])
                if got[1] is not None:
                    met[name] = got[1]
            self.views.append(TicketView(ticket, state, resolved_at, tuple(results), met))
        self._previous = self._previous_of(conn)

    def profile(self, name: str) -> SlaProfile:
        if name not in self._profiles:
            known = name if name in self.cfg.all_profiles() else self.cfg.default_profile
            self._profiles[name] = self.cfg.sla_profile(known, self.timezone)
        return self._profiles[name]

    @staticmethod
    def _replay(conn: Connection, ids: list[int], until_ms: int) -> dict[int, tuple[State, datetime | None]]:
        out: dict[int, tuple[State, datetime | None]] = {}
        tl = ticket_timeline.c
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = conn.execute(select(tl.ticket_id, tl.ts_ms, tl.action, tl.details)
                                .where(tl.ticket_id.in_(part), tl.ts_ms <= until_ms,
                                       tl.action.in_(("state", "reopened")))
                                .order_by(tl.ticket_id, tl.id))
            for ticket_id, ts_ms, action, details in rows:
                _, resolved = out.get(ticket_id, (State.REGISTERED, None))
                target = State((details or {}).get("to", State.REGISTERED.value))
                if target == State.RESOLVED and action == "state":
                    resolved = repo.utc(ts_ms)
                elif action == "reopened":
                    resolved = None
                out[ticket_id] = (target, resolved)
        return out

    def _previous_of(self, conn: Connection) -> dict[int, Ticket]:
        """For system tickets created in the period: the previous ticket of the same fingerprint."""
        wanted = {v.ticket.fingerprint: v.ticket.id for v in self.created() if v.ticket.source != Source.MANUAL}
        out: dict[int, Ticket] = {}
        fps = sorted(wanted)
        t = tickets.c
        for i in range(0, len(fps), 500):
            rows = conn.execute(select(tickets).where(t.fingerprint.in_(fps[i:i + 500])).order_by(t.id)).all()
            by_fp: dict[str, list[Ticket]] = {}
            for r in rows:
                x = repo.row_to_ticket(r)
                by_fp.setdefault(x.fingerprint, []).append(x)
            for v in self.created():
                earlier = [x for x in by_fp.get(v.ticket.fingerprint, []) if x.id < v.ticket.id]
                if earlier and v.ticket.source != Source.MANUAL:
                    out[v.ticket.id] = earlier[-1]
        return out

    # -- selections ----------------------------------------------------------------------------

    def _in(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.until

    def created(self) -> list[TicketView]:
        return [v for v in self.views if self._in(v.ticket.created_at)]

    def resolved(self) -> list[TicketView]:
        return [v for v in self.views if self._in(v.resolved_at)]

    def open_at_end(self) -> list[TicketView]:
        return [v for v in self.views if v.open]

    def shown(self) -> list[TicketView]:
        """Registered or resolved in the period."""
        return [v for v in self.views if self._in(v.ticket.created_at) or self._in(v.resolved_at)]

    # -- model parts ---------------------------------------------------------------------------

    def host(self, host_id: str | None) -> HostRef | None:
        if host_id is None:
            return None
        return self.hosts.get(host_id) or HostRef(host_id, host_id)

    def row(self, v: TicketView) -> TicketRow:
        t = v.ticket
        c = t.classification
        return TicketRow(id=t.id, title=t.title, severity=t.severity.value, state=v.state.value,
                         source=t.source.value, host=self.host(t.host_id), created_at=t.created_at,
                         resolved_at=v.resolved_at, fault_type=c.fault_type.value if c.fault_type else None,
                         cause=c.cause.value if c.cause else None, clocks=v.clocks,
                         opened_in_period=self._in(t.created_at), resolved_in_period=self._in(v.resolved_at))

    def rows(self) -> tuple[TicketRow, ...]:
        return tuple(self.row(v) for v in sorted(self.shown(), key=lambda v: v.ticket.id))

    def summary(self) -> TicketSummary:
        outcomes = [c.outcome for v in self.shown() for c in v.clocks]
        return TicketSummary(opened=len(self.created()), resolved=len(self.resolved()),
                             open_at_end=len(self.open_at_end()), clocks_met=outcomes.count("met"),
                             clocks_breached=outcomes.count("breached"))

    def breakdowns(self) -> dict[str, tuple[Breakdown, ...]]:
        created = self.created()

        def count(values: list[str], order: list[str]) -> tuple[Breakdown, ...]:
            c = Counter(values)
            keys = [k for k in order if c[k]] + sorted(k for k in c if k not in order)
            return tuple(Breakdown(k, c[k]) for k in keys)

        cls = [v.ticket.classification for v in created]
        return {
            "type": count([c.fault_type.value if c.fault_type else "unclassified" for c in cls],
                          ["hardware", "software", "network", "unclassified"]),
            "cause": count([c.cause.value if c.cause else "unclassified" for c in cls],
                           ["software_defect", "config_error", "hardware_problem", "unclassified"]),
            "severity": tuple(Breakdown(s.value, sum(1 for v in created if v.ticket.severity == s)) for s in Severity),
            "source": count([v.ticket.source.value for v in created], [s.value for s in Source]),
        }

    def repeats(self) -> tuple[RepeatFault, ...]:
        out = []
        for v in self.created():
            prev = self._previous.get(v.ticket.id)
            if prev is None:
                continue
            prev_at = prev.resolved_at or prev.created_at
            if timedelta(0) <= v.ticket.created_at - prev_at <= REPEAT_WINDOW:
                out.append(RepeatFault(ticket_id=v.ticket.id, previous_id=prev.id, host=self.host(v.ticket.host_id),
                                       title=v.ticket.title, at=v.ticket.created_at, previous_at=prev_at))
        return tuple(out)

    def mttr(self) -> tuple[float | None, tuple[SeverityTime, ...]]:
        """Mean of resolved − registered (wall-clock) over the tickets resolved in the period."""
        spans = [(v.ticket.severity, (v.resolved_at - v.ticket.created_at).total_seconds())
                 for v in self.resolved() if v.resolved_at is not None]
        per = tuple(SeverityTime(s.value, len(xs), mean(xs))
                    for s in Severity if (xs := [d for sev, d in spans if sev == s]))
        return (mean(d for _, d in spans) if spans else None), per

    def measures(self) -> tuple[Measure, ...]:
        """The measures of the tickets resolved in the period (see :func:`grouped_measures`)."""
        return grouped_measures([(v.ticket.id, v.ticket.title, v.ticket.closure) for v in self.resolved()
                                 if v.ticket.closure is not None])

    def sla(self, views: Sequence[TicketView] | None = None) -> tuple[SlaCompliance, ...]:
        """SLA outcomes of the tickets created in the period (or of ``views``), per clock."""
        created = self.created() if views is None else views
        out = []
        for clock in REPORT_CLOCKS:
            outcomes = [c.outcome for v in created for c in v.clocks if c.clock == clock]
            if not outcomes or all(o == "untracked" for o in outcomes):
                continue
            out.append(SlaCompliance(clock, met=outcomes.count("met"), breached=outcomes.count("breached"),
                                     running=outcomes.count("running"),
                                     not_applicable=outcomes.count("not_applicable")))
        return tuple(out)

    def durations(self, clock: str) -> list[float]:
        """Service-window seconds ``clock`` ran until its event, over the period's tickets where it stopped."""
        return sorted(v.stopped_met[clock] for v in self.created() if clock in v.stopped_met)

    def times(self) -> tuple[DurationStats, ...]:
        return tuple(duration_stats(clock, self.durations(clock)) for clock in TIME_CLOCKS)

    def satisfaction(self) -> SatisfactionSummary:
        ratings: list[Satisfaction] = [s for v in self.views
                                       if (s := v.ticket.satisfaction) is not None and self._in(s.rated_at)]
        if not ratings:
            return SatisfactionSummary(0, None, None, None, None, SATISFACTION_TARGET)
        return SatisfactionSummary(
            ratings=len(ratings), overall_pct=mean(r.overall_percent for r in ratings),
            attitude_pct=mean(r.percent("attitude") for r in ratings),
            quality_pct=mean(r.percent("quality") for r in ratings),
            resolution_pct=mean(r.percent("resolution") for r in ratings), target_pct=SATISFACTION_TARGET)

    def open_risks(self) -> list[OpenRisk]:
        return [OpenRisk(kind="ticket", host=self.host(v.ticket.host_id),
                         title={"zh": v.ticket.title, "en": v.ticket.title}, level=v.ticket.severity.value,
                         since=v.ticket.created_at, ticket_id=v.ticket.id)
                for v in sorted(self.open_at_end(), key=lambda v: (v.ticket.severity.rank, v.ticket.id))]

    def open_fingerprints(self) -> set[str]:
        return {v.ticket.fingerprint for v in self.open_at_end()}

    def forecast_tickets(self) -> dict[str, int]:
        """Open predictive tickets by fingerprint, for linking the forecast runs they were raised from."""
        return {v.ticket.fingerprint: v.ticket.id for v in self.open_at_end() if v.ticket.source == Source.FORECAST}
