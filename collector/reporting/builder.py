"""Building report models from the collector's store (rendering is :mod:`reports`, separately).

A report describes one customer and one period as it stood at the period's end (or now, for a
period still running): the monthly inspection run covering the month, the rollups of the period,
the tickets replayed to its end, and forecasts made with data up to its end only — so a past
period regenerated later shows the same numbers, apart from what was changed after the fact
(a checklist row filled in late, a ticket rated late).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from collector.reporting import findings as runs_data
from collector.reporting import usage as use
from collector.reporting.config import ReportsConfig
from collector.reporting.ticket_stats import TicketData
from collector.store.schema import customers, hosts
from collector.tickets.config import TicketsConfig
from collector.tickets.model import fingerprint
from reports.model import (
    Availability,
    Branding,
    CapacityForecast,
    DiskChart,
    FaultAnalysis,
    HostRef,
    HostTrend,
    MonthlyReport,
    MonthUsage,
    MountUsage,
    NextSteps,
    OpenRisk,
    QuarterlyReport,
    Report,
    ReportHeader,
    RunningStatus,
    ScorePoint,
    ServiceSituation,
    Status,
    StatusCounts,
    TopRisk,
    UtilisationChart,
)
from reports.periods import Period, ReportKind
from reports.recommend import FindingAdvice, finding_advice, monthly_recommendations, quarterly_recommendations

DAY = 86400.0
CHART_STEP_S = 6 * 3600.0  # monthly charts: four points a day
TOP_RISKS = 5
RISK_FORECAST_DAYS = 30  # a forecast is a top risk when the limit is this close

Clock = Callable[[], float]


class ReportRequestError(ValueError):
    """A report cannot be built as asked (unknown customer, a period not begun); the message says why."""


@dataclass(frozen=True)
class CustomerInfo:
    id: str
    name: str
    timezone: str
    language: str
    emails: tuple[str, ...]


def load_customer(conn: Connection, customer_id: str) -> CustomerInfo:
    row = conn.execute(select(customers).where(customers.c.id == customer_id)).mappings().first()
    if row is None:
        known = [r[0] for r in conn.execute(select(customers.c.id).order_by(customers.c.id))]
        raise ReportRequestError(f"unknown customer {customer_id!r}; known: {', '.join(known) or 'none'} "
                                 "(customers: in collector.yaml)")
    contacts = (row["info"] or {}).get("contacts") or []
    emails = tuple(dict.fromkeys(c["email"] for c in contacts if c.get("email")))
    return CustomerInfo(row["id"], row["name"], row["timezone"], row["language"], emails)


def customer_hosts(conn: Connection, customer_id: str) -> list[tuple[HostRef, int]]:
    """The customer's hosts by hostname, with when the collector first heard of each (unix ms)."""
    rows = conn.execute(select(hosts.c.id, hosts.c.hostname, hosts.c.first_seen_ms)
                        .where(hosts.c.customer_id == customer_id).order_by(hosts.c.hostname, hosts.c.id))
    return [(HostRef(r.id, r.hostname), int(r.first_seen_ms or 0)) for r in rows]


def _present(candidates: list[tuple[HostRef, int]], usage: use.Usage, until: datetime) -> list[HostRef]:
    """Hosts that existed in the period: known before its end, or with data in it (a backfill
    reports history for a host the collector heard of only later)."""
    hi_ms = until.timestamp() * 1000
    return [ref for ref, first_seen_ms in candidates
            if first_seen_ms < hi_ms or any(len(b.ts) for bs in usage.get(ref.host_id, {}).values() for b in bs)]


class ReportBuilder:
    def __init__(self, engine: Engine, retention_s: dict[str, float], tickets: TicketsConfig,
                 reports: ReportsConfig, clock: Clock = time.time) -> None:
        self.engine = engine
        self.retention_s = retention_s
        self.tickets = tickets
        self.reports = reports
        self.clock = clock

    def build(self, customer_id: str, period: Period) -> Report:
        if period.kind == "monthly":
            return self.monthly(customer_id, period)
        return self.quarterly(customer_id, period)

    # -- shared --------------------------------------------------------------------------------

    def _frame(self, conn: Connection, customer_id: str, period: Period,
               kind: ReportKind) -> tuple[CustomerInfo, ZoneInfo, ReportHeader, list[tuple[HostRef, int]]]:
        """The customer, its zone, the header (``hosts`` still 0) and the candidate hosts."""
        if period.kind != kind:
            raise ReportRequestError(f"{period} is not a {'month' if kind == 'monthly' else 'quarter'}: "
                                     f"give {'YYYY-MM' if kind == 'monthly' else 'YYYYQn'}")
        customer = load_customer(conn, customer_id)
        tz = ZoneInfo(customer.timezone)
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        start, end = period.bounds(tz)
        if start >= now:
            raise ReportRequestError(f"period {period} has not begun yet: it starts {start.isoformat()} "
                                     f"({customer.timezone})")
        until = min(end, now)
        header = ReportHeader(kind=kind, customer_id=customer.id, customer_name=customer.name, period=period,
                              period_start=start.astimezone(UTC), period_end=end.astimezone(UTC),
                              data_until=until.astimezone(UTC), timezone=customer.timezone,
                              provider=self.reports.provider, generated_at=now, hosts=0,
                              branding=self._branding(customer_id))
        return customer, tz, header, customer_hosts(conn, customer_id)

    def _branding(self, customer_id: str) -> Branding:
        b, c = self.reports.branding, self.reports.customer(customer_id)
        return Branding(logo=b.logo_data_uri(), hotline=b.hotline, email=b.email, website=b.website,
                        contract=c.contract, sla_level=c.sla_level, service_window=c.service_window)

    # -- monthly -------------------------------------------------------------------------------

    def monthly(self, customer_id: str, period: Period) -> MonthlyReport:
        with self.engine.connect() as conn:
            customer, tz, header, candidates = self._frame(conn, customer_id, period, "monthly")
            all_refs = {r.host_id: r for r, _ in candidates}
            profile = self.reports.monthly.profile
            run = runs_data.monthly_run(conn, customer_id, period, tz, profile)
            results = runs_data.RunResults(conn, run) if run is not None else None
            memo = results.memo_entries(conn, self.tickets.policy) if results is not None else ()
            previous = runs_data.monthly_run(conn, customer_id, period.previous(), tz, profile)
            trend = _month_trend(conn, customer_id, period, tz, profile)
            td = TicketData(conn, self.tickets, customer_id, customer.timezone, header.period_start,
                            header.data_until, all_refs)
        start, until = header.period_start, header.data_until
        horizon_days = self.reports.forecast_days
        horizon = until + timedelta(days=horizon_days)
        ids = list(all_refs)
        charts = use.load_buckets(self.engine, ids, use.UTILISATION, start, until, CHART_STEP_S,
                                  _utc_offset_s(tz, start))
        refs = _present(candidates, charts, until)
        header = replace(header, hosts=len(refs))
        forecasts = use.stored_forecasts(self.engine, [r.host_id for r in refs], until, td.forecast_tickets())
        risks = sorted((f for f in forecasts if f.eta is not None and f.eta <= horizon),
                       key=lambda f: (f.eta, f.hostname, f.series, f.subject))
        utilisation = tuple(UtilisationChart(ref, use.utilisation_lines(charts.get(ref.host_id, {}))) for ref in refs)
        disks = []
        for ref in refs:
            by_mount = {f.subject: f for f in forecasts if f.host_id == ref.host_id and f.series == use.DISK}
            usage = charts.get(ref.host_id, {})
            lows = use.disk_history(usage, "min")
            mounts = tuple(MountUsage(mount, tuple(points), by_mount.get(mount), tuple(lows.get(mount, ())))
                           for mount, points in sorted(use.disk_history(usage).items()) if points)
            if mounts:
                disks.append(DiskChart(ref, mounts))
        details = runs_data.sort_findings(results.details()) if results is not None else []
        problems = tuple(f for f in details if f.status in ("critical", "warning"))
        open_risks = tuple(td.open_risks())  # the run's findings are the top risks and the advice
        advice = finding_advice(problems, ("critical", "warning"))
        next_steps = NextSteps(horizon_end=horizon, forecasts=tuple(risks), open_risks=open_risks,
                               recommendations=monthly_recommendations(risks, td.repeats(), open_risks, advice,
                                                                       until, inspected=run is not None))
        return MonthlyReport(
            header=header,
            inspection=runs_data.inspection_info(run) if run is not None else None,
            score=run["customer_score"] if run is not None else None,
            previous_score=previous["customer_score"] if previous is not None else None,
            score_trend=trend,
            counts=StatusCounts.of([f.status for f in details]),
            top_risks=_top_risks(problems, risks, until),
            hosts=results.host_checks() if results is not None else (),
            findings=problems,
            unknowns=tuple(f for f in details if f.status == "unknown"),
            forecasts=tuple(risks),
            forecast_horizon_days=horizon_days,
            tickets=td.rows(),
            ticket_summary=td.summary(),
            checklist=results.checklist_entries() if results is not None else (),
            utilisation=utilisation,
            disks=tuple(disks),
            inspection_profile=profile,
            maintenance=results.maintenance_entries() if results is not None else (),
            next_steps=next_steps,
            memo=memo,
        )

    # -- quarterly -----------------------------------------------------------------------------

    def quarterly(self, customer_id: str, period: Period) -> QuarterlyReport:
        with self.engine.connect() as conn:
            customer, tz, header, candidates = self._frame(conn, customer_id, period, "quarterly")
            all_refs = {r.host_id: r for r, _ in candidates}
            td = TicketData(conn, self.tickets, customer_id, customer.timezone, header.period_start,
                            header.data_until, all_refs)
            trend = runs_data.score_points(conn, customer_id, period, tz)
            monthly_scores = []
            for month in period.months():
                points = runs_data.score_points(conn, customer_id, month, tz) if month.start(tz) < header.data_until \
                    else ()
                monthly_scores.append((month, sum(p.score for p in points) / len(points) if points else None))
            quarter_scores = []
            quarter = period
            for _ in range(4):
                points = runs_data.score_points(conn, customer_id, quarter, tz)
                quarter_scores.append((quarter, sum(p.score for p in points) / len(points) if points else None))
                quarter = quarter.previous()
            covering = runs_data.runs_covering(conn, customer_id, period, tz)
            preferred = [r for r in covering if r["profile"] == self.reports.monthly.profile] or covering
            last_run = runs_data.RunResults(conn, preferred[-1]) if preferred else None
        start, until = header.period_start, header.data_until
        horizon_end = period.next().end(tz).astimezone(UTC)
        daily = use.load_buckets(self.engine, list(all_refs), use.UTILISATION, start, until, DAY,
                                 _utc_offset_s(tz, start))
        refs = _present(candidates, daily, until)
        header = replace(header, hosts=len(refs))
        ids = [r.host_id for r in refs]
        up = use.load_availability(self.engine, self.retention_s, self.clock, ids, start, until)
        s0, s1 = start.timestamp(), until.timestamp()
        availability = []
        for ref in refs:
            pct, down, hours_judged = use.availability(up.get(ref.host_id), s0, s1)
            availability.append(Availability(ref, pct, down, hours_judged))
        # Worst first: where a reader should look.
        availability.sort(key=lambda a: (-1.0 if a.availability_pct is None else a.availability_pct, a.host.hostname))
        judged = [a.availability_pct for a in availability if a.availability_pct is not None]
        months = [(m, m.start(tz), min(m.end(tz), until)) for m in period.months() if m.start(tz) < until]
        if len({_utc_offset_s(tz, m0) for _, m0, _ in months} | {_utc_offset_s(tz, until)}) == 1:
            # Local days do not move against UTC in this quarter: the daily buckets add up to months exactly.
            trends = tuple(HostTrend(ref, tuple(
                MonthUsage(m, **use.month_usage_from(daily.get(ref.host_id, {}), m0.timestamp(), m1.timestamp()))
                for m, m0, m1 in months)) for ref in refs)
        else:  # daylight saving time: ask the database per month
            stats = [(m, use.window_stats(self.engine, ids, use.UTILISATION, m0, m1)) for m, m0, m1 in months]
            trends = tuple(HostTrend(ref, tuple(MonthUsage(m, **use.month_usage(s.get(ref.host_id, {})))
                                                for m, s in stats)) for ref in refs)
        running = RunningStatus(
            availability=tuple(availability),
            fleet_availability_pct=sum(judged) / len(judged) if judged else None,
            trends=trends,
            fleet_lines=use.fleet_lines(daily.get(h, {}) for h in ids),
            score_trend=trend,
            monthly_scores=tuple(monthly_scores),
            quarter_scores=tuple(reversed(quarter_scores)),
        )
        mttr, per_severity = td.mttr()
        breakdowns = td.breakdowns()
        faults = FaultAnalysis(tickets=len(td.created()), by_type=breakdowns["type"], by_cause=breakdowns["cause"],
                               by_severity=breakdowns["severity"], by_source=breakdowns["source"],
                               repeats=td.repeats(), resolved=len(td.resolved()), mttr_s=mttr,
                               mttr_by_severity=per_severity, measures=td.measures())
        service = ServiceSituation(tickets=len(td.created()), sla=td.sla(), times=td.times(),
                                   satisfaction=td.satisfaction(), ticket_rows=td.rows())
        forecasts = sorted((fc for fc in use.stored_forecasts(self.engine, [r.host_id for r in refs], until,
                                                              td.forecast_tickets())
                            if fc.eta is not None and fc.eta <= horizon_end),
                           key=lambda f: (f.eta, f.hostname, f.series, f.subject))
        open_risks, advice = _run_risks(last_run, td.open_fingerprints())
        all_risks = (*td.open_risks(), *open_risks)
        recs = quarterly_recommendations(running, faults, service, forecasts, all_risks, advice, until)
        next_steps = NextSteps(horizon_end=horizon_end, forecasts=tuple(forecasts), open_risks=all_risks,
                               recommendations=recs)
        return QuarterlyReport(header=header, running=running, faults=faults, service=service, next_steps=next_steps)


def _utc_offset_s(tz: ZoneInfo, moment: datetime) -> float:
    """The zone's offset at ``moment``: chart buckets then start at local midnight (and every 6 h)."""
    offset = moment.astimezone(tz).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


TREND_MONTHS = 6


def _month_trend(conn: Connection, customer_id: str, period: Period, tz: tzinfo, profile: str
                 ) -> tuple[ScorePoint, ...]:
    """The health score of the month's inspection and of the months before it (up to
    :data:`TREND_MONTHS`): one point per month, so the trend shows where the month stands."""
    months = [period]
    while len(months) < TREND_MONTHS:
        months.append(months[-1].previous())
    out = []
    for month in reversed(months):
        points = [p for p in runs_data.score_points(conn, customer_id, month, tz) if p.profile == profile]
        if points:
            out.append(points[-1])
    return tuple(out) or runs_data.score_points(conn, customer_id, period, tz)


def _top_risks(problems: tuple[Any, ...], forecasts: list[CapacityForecast], until: datetime) -> tuple[TopRisk, ...]:
    """Critical findings, then forecasts close to their limit, then warnings; at most :data:`TOP_RISKS`."""
    out: list[tuple[int, TopRisk]] = []
    for f in problems:
        rank = 0 if f.status == "critical" else 2
        out.append((rank, TopRisk("finding", f.host, f.name, f.subject, f.status, f.observed, f.unit)))
    for fc in forecasts:
        if fc.eta is None or fc.eta - until > timedelta(days=RISK_FORECAST_DAYS):
            continue
        status: Status = "critical" if fc.eta - until <= timedelta(days=7) else "warning"
        out.append((0 if status == "critical" else 1,
                    TopRisk("forecast", HostRef(fc.host_id, fc.hostname), fc.display, fc.subject, status, fc.level,
                            fc.unit, fc.eta)))
    out.sort(key=lambda item: item[0])  # stable: findings keep their worst-first order
    return tuple(r for _, r in out[:TOP_RISKS])


def _run_risks(run: runs_data.RunResults | None, open_fps: set[str]) -> tuple[list[OpenRisk], list[FindingAdvice]]:
    """Warning and critical findings of the last run without an open ticket; advice per critical check."""
    if run is None:
        return [], []
    until = runs_data.inspection_info(run.run).until
    risks: list[OpenRisk] = []
    details = runs_data.sort_findings(run.details())
    for f in details:
        if f.status not in ("critical", "warning") or fingerprint(f.host.host_id, f.check_id, f.subject) in open_fps:
            continue
        title = {lang: f"{f.name.get(lang, f.check_id)}{' ' + f.subject if f.subject else ''}" for lang in ("zh", "en")}
        risks.append(OpenRisk(kind="finding", host=f.host, title=title, level=f.status, since=until))
    return risks, finding_advice(details)
