"""Storing and reading inspection runs: the run row, results, checklist rows.

Writes are short transactions (results go in slices of hosts) so an inspection never holds the
store's write lock for long while ingest is committing. Reads return plain dicts for the API, and
:func:`load_result` rebuilds an :class:`inspections.InspectionResult` for reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast, get_args

from sqlalchemy import Connection, Engine, delete, insert, select, update

from collector.inspection.tables import inspection_checklist, inspection_findings, inspection_hosts, inspection_runs
from inspections import ChecklistRow, CustomerScore, Finding, HostResult, InspectionResult, Skipped, blank_rows
from inspections.checklist import ChecklistResult
from inspections.data import from_epoch
from inspections.model import Status, status_counts

CHECKLIST_RESULTS: tuple[str, ...] = get_args(ChecklistResult)
ACTIVE = ("queued", "running")
_HOSTS_PER_TRANSACTION = 200
_RANK = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}  # worst first


class RunNotFound(LookupError):
    def __init__(self, run_id: int) -> None:
        super().__init__(f"no inspection run {run_id}: see 'patrol inspections' for the runs")


class ChecklistUpdateError(ValueError):
    """A checklist update names an unknown row or result; the message lists what is allowed."""


@dataclass(frozen=True)
class RunRequest:
    customer_id: str
    profile_ref: str
    trigger: str  # schedule | manual | api
    requested_by: str | None = None
    hosts: list[str] | None = None
    schedule_id: str | None = None
    scheduled_for: datetime | None = None
    coalesced: int = 0
    period: str | None = None  # a calendar profile's month or quarter, e.g. "2026-11"; None: see windows.py


def _ms(ts: datetime | None) -> int | None:
    return int(ts.timestamp() * 1000) if ts is not None else None


def _iso(ms: int | None) -> str | None:
    return from_epoch(ms / 1000).isoformat() if ms is not None else None


# -- writing -----------------------------------------------------------------------------------


def create_run(engine: Engine, request: RunRequest, profile_id: str, profile_name: dict[str, str] | None,
               checks: list[str], collector_id: str, now_ms: int, status: str = "queued",
               error: str | None = None, checklist: Sequence[ChecklistRow] | None = None) -> int:
    """Insert a run (and its blank manual checklist); returns the run id."""
    with engine.begin() as conn:
        run_id = conn.execute(insert(inspection_runs).values(
            customer_id=request.customer_id, profile=profile_id, profile_ref=request.profile_ref,
            profile_name=profile_name, trigger=request.trigger, requested_by=request.requested_by,
            schedule_id=request.schedule_id, scheduled_for_ms=_ms(request.scheduled_for),
            coalesced=request.coalesced, status=status, created_ms=now_ms,
            finished_ms=now_ms if status not in ACTIVE else None, requested_hosts=request.hosts,
            hosts_total=0, hosts_done=0, checks=checks, collector_id=collector_id, error=error,
        ).returning(inspection_runs.c.id)).scalar_one()
        rows = list(checklist) if checklist is not None else (blank_rows() if status in ACTIVE else [])
        if rows:
            conn.execute(insert(inspection_checklist), [
                {"run_id": run_id, "item_id": r.item_id, "position": i, "category": r.category, "title": r.title,
                 "guidance": r.guidance, "result": r.result, "remark": r.remark, "checked_by": r.checked_by,
                 "checked_at_ms": _ms(r.checked_at)} for i, r in enumerate(rows)])
    return int(run_id)


def mark_started(engine: Engine, run_id: int, now_ms: int, since: datetime, until: datetime,
                 previous_run_at: datetime | None, hosts_total: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(inspection_runs).where(inspection_runs.c.id == run_id).values(
            status="running", started_ms=now_ms, since_ms=_ms(since), until_ms=_ms(until),
            previous_run_ms=_ms(previous_run_at), hosts_total=hosts_total, hosts_done=0))


def update_progress(engine: Engine, run_id: int, done: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(inspection_runs).where(inspection_runs.c.id == run_id).values(hosts_done=done))


def _finding_row(run_id: int, f: Finding) -> dict[str, Any]:
    d = f.to_dict()
    return {"run_id": run_id, "host_id": f.host_id, "check_id": f.check_id, "subject": f.subject,
            "status": f.status, "observed": d["observed"], "threshold": d["threshold"], "unit": f.unit,
            "evidence": d["evidence"], "recommendation": d["recommendation"], "category": f.category,
            "severity": f.severity, "name": d["name"], "unknown_reason": f.unknown_reason, "note": d["note"]}


def save_result(engine: Engine, run_id: int, result: InspectionResult, finished_ms: int,
                on_stored: Callable[[], object] | None = None) -> None:
    """Store per-host results and findings, call ``on_stored``, then mark the run completed with its summary.

    ``on_stored`` hands the findings on (tickets) before the run reads as completed, so whoever waits
    for completion finds its tickets too.
    """
    for start in range(0, len(result.hosts), _HOSTS_PER_TRANSACTION):
        part = result.hosts[start : start + _HOSTS_PER_TRANSACTION]
        with engine.begin() as conn:
            conn.execute(insert(inspection_hosts), [
                {"run_id": run_id, "host_id": h.host_id, "hostname": h.hostname, "customer_id": h.customer_id,
                 "score": h.score, "status": h.status, "counts": status_counts(h.findings),
                 "skipped": [s.to_dict() for s in h.skipped]} for h in part])
            rows = [_finding_row(run_id, f) for h in part for f in h.findings]
            if rows:
                conn.execute(insert(inspection_findings), rows)
    if on_stored is not None:
        on_stored()
    customer = result.customers[0] if result.customers else None
    with engine.begin() as conn:
        conn.execute(update(inspection_runs).where(inspection_runs.c.id == run_id).values(
            status="completed", finished_ms=finished_ms, hosts_done=len(result.hosts), counts=result.counts(),
            customer_score=customer.score if customer else None,
            worst_host_id=customer.worst_host_id if customer else None, checks=result.checks, error=None))


def mark_finished(engine: Engine, run_id: int, status: str, finished_ms: int, error: str | None) -> None:
    """End a run that did not complete (failed or cancelled); partial results are removed."""
    with engine.begin() as conn:
        conn.execute(delete(inspection_findings).where(inspection_findings.c.run_id == run_id))
        conn.execute(delete(inspection_hosts).where(inspection_hosts.c.run_id == run_id))
        conn.execute(update(inspection_runs).where(inspection_runs.c.id == run_id).values(
            status=status, finished_ms=finished_ms, error=error))


def interrupt_abandoned(engine: Engine, collector_id: str, now_ms: int) -> list[int]:
    """Runs this collector left queued or running when it stopped: marked failed, ids returned."""
    with engine.connect() as conn:
        ids = [r for (r,) in conn.execute(select(inspection_runs.c.id).where(
            inspection_runs.c.collector_id == collector_id, inspection_runs.c.status.in_(ACTIVE)))]
    for run_id in ids:
        mark_finished(engine, run_id, "failed", now_ms,
                      "interrupted: the collector stopped while this run was in progress; start it again "
                      "with 'patrol inspect'")
    return ids


def take_over_runs(engine: Engine, dead_collector: str, now_ms: int) -> list[RunRequest]:
    """Fail the active runs of a collector that died; the scheduled ones come back as requests to run again.

    Each run is moved out of its active state with a conditional update, so of two collectors that
    both believe they lead for a moment, only one re-runs it.
    """
    t = inspection_runs.c
    with engine.connect() as conn:
        rows = conn.execute(select(inspection_runs).where(t.collector_id == dead_collector,
                                                          t.status.in_(ACTIVE))).mappings().all()
    again: list[RunRequest] = []
    for row in rows:
        with engine.begin() as conn:
            res = conn.execute(update(inspection_runs).where(t.id == row["id"], t.status.in_(ACTIVE)).values(
                status="failed", finished_ms=now_ms,
                error=f"interrupted: collector {dead_collector} died during this run"
                      + ("; the group's leader runs it again" if row["trigger"] == "schedule" else
                         "; start it again with 'patrol inspect'")))
            if res.rowcount == 1:
                conn.execute(delete(inspection_findings).where(inspection_findings.c.run_id == row["id"]))
                conn.execute(delete(inspection_hosts).where(inspection_hosts.c.run_id == row["id"]))
        if res.rowcount == 1 and row["trigger"] == "schedule":
            when = row["scheduled_for_ms"]
            again.append(RunRequest(
                customer_id=row["customer_id"], profile_ref=row["profile_ref"], trigger="schedule",
                requested_by=row["requested_by"], hosts=row["requested_hosts"], schedule_id=row["schedule_id"],
                scheduled_for=datetime.fromtimestamp(when / 1000, tz=UTC) if when is not None else None,
                coalesced=row["coalesced"]))
    return again


@dataclass(frozen=True)
class PreviousRun:
    """The customer's previous completed inspection of the same profile: where its window ended
    (reboot detection) and its findings' statuses (recovery levels, :mod:`inspections.hysteresis`)."""

    run_id: int
    until: datetime
    statuses: dict[tuple[str, str, str], Status]


def previous_run(engine: Engine, customer_id: str, profile_id: str, before_run_id: int,
                 until: datetime) -> PreviousRun | None:
    """The completed run of the customer and profile whose window ended last at or before ``until``,
    so a month inspected after a later one still follows the month before it."""
    limit = int(until.timestamp() * 1000)
    r = inspection_runs.c
    with engine.connect() as conn:
        row = conn.execute(select(r.id, r.until_ms).where(
            r.customer_id == customer_id, r.profile == profile_id, r.status == "completed", r.id != before_run_id,
            r.until_ms <= limit,
        ).order_by(r.until_ms.desc(), r.id.desc()).limit(1)).first()
        if row is None or not row.until_ms:
            return None
        f = inspection_findings.c
        statuses = {(h, c, s): cast(Status, st) for h, c, s, st in conn.execute(
            select(f.host_id, f.check_id, f.subject, f.status).where(f.run_id == row.id,
                                                                    f.status.in_(("warning", "critical"))))}
    return PreviousRun(row.id, from_epoch(row.until_ms / 1000), statuses)


# -- reading -----------------------------------------------------------------------------------


def run_dict(row: Any) -> dict[str, Any]:
    r = row._mapping if hasattr(row, "_mapping") else row
    duration = (r["finished_ms"] - r["started_ms"]) / 1000 if r["finished_ms"] and r["started_ms"] else None
    return {
        "id": r["id"], "customer_id": r["customer_id"], "profile": r["profile"], "profile_ref": r["profile_ref"],
        "profile_name": r["profile_name"], "trigger": r["trigger"], "requested_by": r["requested_by"],
        "schedule_id": r["schedule_id"], "scheduled_for": _iso(r["scheduled_for_ms"]), "coalesced": r["coalesced"],
        "status": r["status"], "created": _iso(r["created_ms"]), "started": _iso(r["started_ms"]),
        "finished": _iso(r["finished_ms"]), "duration_s": duration, "since": _iso(r["since_ms"]),
        "until": _iso(r["until_ms"]), "previous_run": _iso(r["previous_run_ms"]),
        "requested_hosts": r["requested_hosts"],
        "progress": {"done": r["hosts_done"], "total": r["hosts_total"]},
        "counts": r["counts"], "customer_score": r["customer_score"], "worst_host_id": r["worst_host_id"],
        "checks": r["checks"] or [], "error": r["error"],
    }


def list_runs(conn: Connection, customer_id: str | None = None, status: str | None = None,
              limit: int = 50) -> list[dict[str, Any]]:
    q = select(inspection_runs).order_by(inspection_runs.c.id.desc()).limit(limit)
    if customer_id:
        q = q.where(inspection_runs.c.customer_id == customer_id)
    if status:
        q = q.where(inspection_runs.c.status == status)
    return [run_dict(r) for r in conn.execute(q)]


def get_run(conn: Connection, run_id: int) -> dict[str, Any]:
    row = conn.execute(select(inspection_runs).where(inspection_runs.c.id == run_id)).first()
    if row is None:
        raise RunNotFound(run_id)
    return run_dict(row)


def host_results(conn: Connection, run_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(inspection_hosts).where(inspection_hosts.c.run_id == run_id)
                        .order_by(inspection_hosts.c.hostname, inspection_hosts.c.host_id)).mappings()
    return [{k: v for k, v in r.items() if k != "run_id"} for r in rows]


def findings(conn: Connection, run_id: int, statuses: Sequence[str] | None = None,
             host_id: str | None = None) -> list[dict[str, Any]]:
    """Findings of a run as :meth:`Finding.to_dict` dicts, worst first within each host."""
    q = select(inspection_findings).where(inspection_findings.c.run_id == run_id)
    if statuses:
        q = q.where(inspection_findings.c.status.in_(list(statuses)))
    if host_id:
        q = q.where(inspection_findings.c.host_id == host_id)
    out = [{k: v for k, v in r.items() if k not in ("id", "run_id")}
           for r in conn.execute(q.order_by(inspection_findings.c.id)).mappings()]
    out.sort(key=lambda f: (f["host_id"], _RANK.get(f["status"], 4)))
    return out


@dataclass(frozen=True)
class StoredFinding:
    """A finding of a stored run with its row id (the number engineers use to name it)."""

    id: int
    finding: Finding


def stored_findings(conn: Connection, run_id: int, statuses: Sequence[str] | None = None) -> list[StoredFinding]:
    """The run's findings parsed once into :class:`Finding`, in the order they were stored."""
    q = select(inspection_findings).where(inspection_findings.c.run_id == run_id)
    if statuses:
        q = q.where(inspection_findings.c.status.in_(list(statuses)))
    return [StoredFinding(r["id"], Finding.from_dict(dict(r)))
            for r in conn.execute(q.order_by(inspection_findings.c.id)).mappings()]


def checklist_rows(conn: Connection, run_id: int) -> list[ChecklistRow]:
    rows = conn.execute(select(inspection_checklist).where(inspection_checklist.c.run_id == run_id)
                        .order_by(inspection_checklist.c.position)).mappings()
    return [ChecklistRow(item_id=r["item_id"], category=r["category"], title=dict(r["title"]),
                         guidance=dict(r["guidance"]), result=r["result"], remark=r["remark"] or "",
                         checked_by=r["checked_by"],
                         checked_at=from_epoch(r["checked_at_ms"] / 1000) if r["checked_at_ms"] else None)
            for r in rows]


def set_checklist(engine: Engine, run_id: int, updates: Sequence[tuple[str, str | None, str | None]],
                  checked_by: str, now_ms: int) -> list[ChecklistRow]:
    """Fill in rows: ``(item id, result or None to clear, remark or None to keep)``.

    Item ids may omit the ``manual.`` prefix. Unknown ids or results raise
    :class:`ChecklistUpdateError` and change nothing.
    """
    with engine.begin() as conn:
        get_run(conn, run_id)
        existing = [r["item_id"] for r in conn.execute(
            select(inspection_checklist.c.item_id).where(inspection_checklist.c.run_id == run_id)).mappings()]
        if not existing:
            raise ChecklistUpdateError(f"run {run_id} has no manual checklist (it was missed, not run)")
        problems = []
        resolved: list[tuple[str, str | None, str | None]] = []
        for item, result, remark in updates:
            item_id = item if item in existing else f"manual.{item}" if f"manual.{item}" in existing else None
            if item_id is None:
                short = ", ".join(i.removeprefix("manual.") for i in existing)
                problems.append(f"unknown checklist row {item!r}; rows: {short}")
                continue
            if result is not None and result not in CHECKLIST_RESULTS:
                problems.append(f"row {item!r}: result {result!r} is not one of {', '.join(CHECKLIST_RESULTS)}")
                continue
            resolved.append((item_id, result, remark))
        if problems:
            raise ChecklistUpdateError("; ".join(problems))
        for item_id, result, remark in resolved:
            values: dict[str, Any] = {"result": result, "checked_by": checked_by if result else None,
                                      "checked_at_ms": now_ms if result else None}
            if remark is not None:
                values["remark"] = remark
            conn.execute(update(inspection_checklist).where(inspection_checklist.c.run_id == run_id,
                                                            inspection_checklist.c.item_id == item_id).values(**values))
        return checklist_rows(conn, run_id)


def load_result(conn: Connection, run_id: int) -> InspectionResult:
    """A completed run as the engine's :class:`InspectionResult` (for reports)."""
    run = get_run(conn, run_id)
    if run["status"] != "completed":
        raise ValueError(f"inspection run {run_id} is {run['status']}, not completed; it has no results")
    by_host: dict[str, list[Finding]] = {}
    for s in sorted(stored_findings(conn, run_id), key=lambda s: _RANK.get(s.finding.status, 4)):
        by_host.setdefault(s.finding.host_id, []).append(s.finding)
    host_rows = host_results(conn, run_id)
    hosts = [HostResult(host_id=h["host_id"], hostname=h["hostname"], customer_id=h["customer_id"],
                        score=h["score"], findings=by_host.get(h["host_id"], []),
                        skipped=[Skipped.from_dict(s) for s in h["skipped"]]) for h in host_rows]
    customers = []
    if run["customer_score"] is not None:
        customers.append(CustomerScore(customer_id=run["customer_id"], score=run["customer_score"],
                                       hosts=len(hosts), worst_host_id=run["worst_host_id"],
                                       counts=dict(run["counts"] or {})))

    def dt(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    since, until, started = dt(run["since"]), dt(run["until"]), dt(run["started"])
    assert since is not None and until is not None and started is not None
    return InspectionResult(profile=run["profile"], since=since, until=until, evaluated_at=started,
                            previous_run_at=dt(run["previous_run"]), hosts=hosts, customers=customers,
                            checks=list(run["checks"]))
