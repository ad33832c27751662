"""Building the provider's service-quality report (服务质量关键指标分析) from the store.

Each customer's tickets of the period are read by :class:`TicketData` — the same replay the
customers' quarterly reports use, in each customer's own time zone and SLA profile — and summed
over customers; the knowledge base lists the problems resolved in the period, most frequent first.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from collector.config import Customer
from collector.reporting.ticket_stats import REPORT_CLOCKS, SATISFACTION_TARGET, TIME_CLOCKS, TicketData, duration_stats
from collector.tickets.config import TicketsConfig
from collector.tickets.knowledge import knowledge_base
from collector.tickets.model import Severity
from reports.periods import Period
from reports.quality import (
    CustomerQuality,
    KnownProblem,
    QualityReport,
    SeveritySla,
    histogram,
    sum_sla,
    weighted_satisfaction,
)

KNOWLEDGE_ROWS = 15


def build_quality(engine: Engine, tickets_cfg: TicketsConfig, customers: list[Customer], provider: str,
                  period: Period, timezone: str, now: datetime) -> QualityReport:
    """The report of ``period`` (a month or quarter in ``timezone``), with data up to ``now`` if it is running."""
    tz = ZoneInfo(timezone)
    start, end = period.bounds(tz)
    until = min(end, now)
    per_customer: list[tuple[Customer, TicketData]] = []
    with engine.connect() as conn:
        for c in customers:
            per_customer.append((c, TicketData(conn, tickets_cfg, c.id, c.timezone, start, until, {})))
        known = knowledge_base(conn, since=start, until=until)
    # Each customer's outcomes per clock, read once: the totals below are sums of them.
    slas = [x for _, data in per_customer for x in data.sla()]
    by_customer = []
    for c, data in per_customer:
        sla = {x.clock: x for x in data.sla()}
        by_customer.append(CustomerQuality(c.id, c.name, len(data.created()), sla.get("respond"), sla.get("restore"),
                                           data.satisfaction(), len(data.repeats())))
    by_severity = []
    for severity in Severity:
        parts = [data.sla([v for v in data.created() if v.ticket.severity == severity]) for _, data in per_customer]
        flat = [x for part in parts for x in part]
        by_severity.append(SeveritySla(
            severity.value, sum(1 for _, d in per_customer for v in d.created() if v.ticket.severity == severity),
            sum_sla([x for x in flat if x.clock == "respond"], "respond"),
            sum_sla([x for x in flat if x.clock == "restore"], "restore")))
    overall = tuple(s for clock in REPORT_CLOCKS if (s := sum_sla([x for x in slas if x.clock == clock], clock)))
    durations = {clock: sorted(x for _, d in per_customer for x in d.durations(clock)) for clock in TIME_CLOCKS}
    return QualityReport(
        provider=provider, period=period, period_start=start, period_end=end, data_until=until, timezone=timezone,
        generated_at=now, tickets=sum(q.tickets for q in by_customer), sla=overall, by_severity=tuple(by_severity),
        by_customer=tuple(by_customer), times=tuple(duration_stats(clock, xs) for clock, xs in durations.items()),
        histograms=tuple(histogram(clock, durations[clock]) for clock in ("respond", "restore")),
        satisfaction=weighted_satisfaction([q.satisfaction for q in by_customer], SATISFACTION_TARGET),
        repeats=sum(q.repeats for q in by_customer),
        knowledge=tuple(KnownProblem(p.problem, p.count, p.cause, p.solution, p.prevention, len(p.customers))
                        for p in known[:KNOWLEDGE_ROWS]))

