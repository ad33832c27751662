"""Inspection results for reports: which run a monthly report follows, its findings, checklist, scores.

A run *covers* the calendar month (or quarter) that contains the middle of its window, in the
customer's time zone: the monthly inspection at 02:00 on 1 November looks back 30 days and covers
October. The same rule picks the run of a past period when a report is regenerated, and tells the
scheduler which period a freshly completed run is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, select

from collector.findings import records
from collector.inspection import runs
from collector.inspection.tables import inspection_runs
from collector.tickets.policy import TicketPolicy
from inspections import CATEGORY_TITLES, Finding
from reports.model import (
    CATEGORY_ORDER,
    CategoryGroup,
    ChecklistEntry,
    CheckRow,
    FindingDetail,
    HostChecks,
    HostRef,
    InspectionInfo,
    MaintenanceEntry,
    MemoEntry,
    ScorePoint,
)
from reports.periods import Period, ReportKind

_RANK = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def _dt(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


def covered_period(kind: ReportKind, since_ms: int, until_ms: int, tz: tzinfo) -> Period:
    middle = datetime.fromtimestamp((since_ms + until_ms) / 2000, tz=UTC)
    return Period.containing(kind, middle, tz)


def runs_covering(conn: Connection, customer_id: str, period: Period, tz: tzinfo,
                  profile: str | None = None) -> list[dict[str, Any]]:
    """Completed runs of the customer (of ``profile``) that cover ``period``, oldest first."""
    start, end = period.bounds(tz)
    t = inspection_runs.c
    q = (select(t.id, t.profile, t.profile_name, t.since_ms, t.until_ms, t.started_ms, t.customer_score, t.checks)
         .where(t.customer_id == customer_id, t.status == "completed", t.since_ms < int(end.timestamp() * 1000),
                t.until_ms > int(start.timestamp() * 1000))
         .order_by(t.id))
    if profile is not None:
        q = q.where(t.profile == profile)
    return [dict(r._mapping) for r in conn.execute(q)
            if covered_period(period.kind, r.since_ms, r.until_ms, tz) == period]


def monthly_run(conn: Connection, customer_id: str, period: Period, tz: tzinfo, profile: str) -> dict[str, Any] | None:
    """The latest completed ``profile`` run covering the month ``period``."""
    found = runs_covering(conn, customer_id, period, tz, profile)
    return found[-1] if found else None


def score_points(conn: Connection, customer_id: str, period: Period, tz: tzinfo) -> tuple[ScorePoint, ...]:
    """The customer score of every completed run (any profile) covering ``period``, in time order."""
    points = [ScorePoint(at=_dt(r["until_ms"]) or datetime.min.replace(tzinfo=UTC), score=int(r["customer_score"]),
                         profile=r["profile"], run_id=r["id"])
              for r in runs_covering(conn, customer_id, period, tz) if r["customer_score"] is not None]
    return tuple(sorted(points, key=lambda p: (p.at, p.run_id)))


def inspection_info(run: dict[str, Any]) -> InspectionInfo:
    since, until, started = _dt(run["since_ms"]), _dt(run["until_ms"]), _dt(run["started_ms"])
    assert since is not None and until is not None and started is not None
    return InspectionInfo(run_id=run["id"], profile=run["profile"], profile_name=dict(run["profile_name"] or {}),
                          since=since, until=until, started_at=started, checks=len(run["checks"] or []))


def finding_detail(f: Finding, host: HostRef) -> FindingDetail:
    thr = f.threshold
    return FindingDetail(host=host, check_id=f.check_id, name=dict(f.name), category=f.category, subject=f.subject,
                         status=f.status, severity=f.severity, observed=f.observed, unit=f.unit, warn=thr.warn,
                         crit=thr.crit, direction=thr.direction, evidence=f.evidence,
                         recommendation=dict(f.recommendation), note=f.note, unknown_reason=f.unknown_reason)


def sort_findings(items: Sequence[FindingDetail]) -> list[FindingDetail]:
    return sorted(items, key=lambda f: (_RANK.get(f.status, 4), _SEVERITY_RANK.get(f.severity, 3),
                                        f.host.hostname, f.check_id, f.subject))


class RunResults:
    """Hosts, findings and checklist of one completed run."""

    def __init__(self, conn: Connection, run: dict[str, Any]) -> None:
        self.run = run
        self.check_order = {c: i for i, c in enumerate(run["checks"] or [])}
        self.host_rows = runs.host_results(conn, run["id"])
        self.findings = [s.finding for s in runs.stored_findings(conn, run["id"])]
        self.checklist = runs.checklist_rows(conn, run["id"])
        self.fixes = records.fixes(conn, run["id"])
        self.refs = {h["host_id"]: HostRef(h["host_id"], h["hostname"]) for h in self.host_rows}

    def ref(self, host_id: str) -> HostRef:
        return self.refs.get(host_id) or HostRef(host_id, host_id)

    def details(self) -> list[FindingDetail]:
        return [finding_detail(f, self.ref(f.host_id)) for f in self.findings]

    def host_checks(self) -> tuple[HostChecks, ...]:
        by_host: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_host.setdefault(f.host_id, []).append(f)
        out = []
        for h in self.host_rows:
            groups = []
            mine = by_host.get(h["host_id"], [])
            for category in CATEGORY_ORDER:
                rows = sorted((f for f in mine if f.category == category),
                              key=lambda f: (self.check_order.get(f.check_id, 10**6), f.check_id, f.subject))
                if not rows:
                    continue
                groups.append(CategoryGroup(category, dict(CATEGORY_TITLES[category]),  # type: ignore[index]
                                            tuple(_check_row(f) for f in rows)))
            out.append(HostChecks(host=self.ref(h["host_id"]), score=h["score"], status=h["status"],
                                  groups=tuple(groups),
                                  skipped=tuple((s["check_id"], s["reason"]) for s in h["skipped"] or [])))
        return tuple(sorted(out, key=lambda hc: (hc.host.hostname, hc.host.host_id)))

    def checklist_entries(self) -> tuple[ChecklistEntry, ...]:
        return tuple(ChecklistEntry(item_id=r.item_id, category=r.category, title=dict(r.title),
                                    guidance=dict(r.guidance), result=r.result, remark=r.remark,
                                    checked_by=r.checked_by, checked_at=r.checked_at) for r in self.checklist)


    def maintenance_entries(self) -> tuple[MaintenanceEntry, ...]:
        """The run's maintenance record, each problem under its check's display name."""
        names: dict[tuple[str | None, str, str], dict[str, str]] = {
            (f.host_id, f.check_id, f.subject): f.name for f in self.findings}
        return tuple(MaintenanceEntry(host=self.ref(r.host_id) if r.host_id else None,
                                      name=dict(names.get((r.host_id, r.check_id, r.subject), {})), subject=r.subject,
                                      symptom=r.symptom, analysis=r.analysis, steps=r.steps,
                                      recorded_by=r.recorded_by, recorded_at=r.recorded_at) for r in self.fixes)

    def memo_entries(self, conn: Connection, policy: TicketPolicy) -> tuple[MemoEntry, ...]:
        """The run's maintenance memo: its problems left for follow-up tickets, each with its ticket."""
        return tuple(MemoEntry(host=self.ref(m.host_id) if m.host_id else None, name=dict(m.name),
                               subject=m.subject if m.number is not None else "", status=m.status,
                               observed=m.observed, unit=m.unit, ticket_id=m.ticket.id if m.ticket else None,
                               ticket_severity=m.ticket.severity.value if m.ticket else None,
                               ticket_state=m.ticket.state.value if m.ticket else None)
                     for m in records.memo(conn, policy, self.run["id"]))


def _check_row(f: Finding) -> CheckRow:
    thr = f.threshold
    return CheckRow(check_id=f.check_id, name=dict(f.name), subject=f.subject, status=f.status, observed=f.observed,
                    unit=f.unit, warn=thr.warn, crit=thr.crit, direction=thr.direction, severity=f.severity)
