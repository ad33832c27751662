"""The report model: everything a report shows, as plain frozen values, independent of the language.

The collector builds a :class:`MonthlyReport` or :class:`QuarterlyReport` from its store; the
renderer turns one into HTML or PDF in Chinese or English. Texts that come in both languages (check
names, recommendations) are :data:`Text` mappings ``{"zh": …, "en": …}``; everything else is a
number, a time (tz-aware) or an identifier that the renderer formats for the locale. ``None`` means
"no data", never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from inspections.model import Evidence
from inspections.signals import CapacityForecast
from reports.periods import Period, ReportKind

Text = Mapping[str, str]
Status = Literal["ok", "warning", "critical", "unknown"]
STATUSES: tuple[Status, ...] = ("ok", "warning", "critical", "unknown")
CATEGORY_ORDER = ("device_network", "resources", "application", "system_logs", "data_security")
Point = tuple[datetime, float]


@dataclass(frozen=True)
class HostRef:
    host_id: str
    hostname: str


@dataclass(frozen=True)
class Branding:
    """The provider on the cover and in the footer, and the contract the report is delivered under."""

    logo: str | None = None  # a data: URI
    hotline: str = ""
    email: str = ""
    website: str = ""
    contract: str = ""
    sla_level: str = ""
    service_window: str = ""

    @property
    def contacts(self) -> str:
        return " · ".join(v for v in (self.hotline, self.email, self.website) if v)


@dataclass(frozen=True)
class ReportHeader:
    kind: ReportKind
    customer_id: str
    customer_name: str
    period: Period
    period_start: datetime
    period_end: datetime  # exclusive
    data_until: datetime  # the period end, or the generation time while the period is still running
    timezone: str
    provider: str
    generated_at: datetime
    hosts: int
    uninspected: bool = False  # generated on request although no completed inspection covers the period
    branding: Branding = field(default_factory=Branding)

    @property
    def partial(self) -> bool:
        return self.data_until < self.period_end


@dataclass(frozen=True)
class StatusCounts:
    ok: int = 0
    warning: int = 0
    critical: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.ok + self.warning + self.critical + self.unknown

    @classmethod
    def of(cls, statuses: list[str]) -> StatusCounts:
        return cls(**{s: statuses.count(s) for s in STATUSES})


@dataclass(frozen=True)
class ScorePoint:
    """A customer health score (0–100) as of the end of an inspection run's window."""

    at: datetime
    score: int
    profile: str
    run_id: int


@dataclass(frozen=True)
class InspectionInfo:
    run_id: int
    profile: str
    profile_name: Text
    since: datetime
    until: datetime
    started_at: datetime
    checks: int


@dataclass(frozen=True)
class CheckRow:
    check_id: str
    name: Text
    subject: str
    status: Status
    observed: float | None
    unit: str
    warn: float | None
    crit: float | None
    direction: str
    severity: str


@dataclass(frozen=True)
class CategoryGroup:
    category: str
    title: Text
    rows: tuple[CheckRow, ...]

    @property
    def counts(self) -> StatusCounts:
        return StatusCounts.of([r.status for r in self.rows])


@dataclass(frozen=True)
class HostChecks:
    host: HostRef
    score: int | None
    status: Status
    groups: tuple[CategoryGroup, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (check id, reason)

    @property
    def counts(self) -> StatusCounts:
        return StatusCounts.of([r.status for g in self.groups for r in g.rows])


@dataclass(frozen=True)
class FindingDetail:
    host: HostRef
    check_id: str
    name: Text
    category: str
    subject: str
    status: Status
    severity: str
    observed: float | None
    unit: str
    warn: float | None
    crit: float | None
    direction: str
    evidence: Evidence  # the inspection's own, as stored with the finding
    recommendation: Text
    note: Text | None = None
    unknown_reason: str | None = None


@dataclass(frozen=True)
class TopRisk:
    kind: Literal["finding", "forecast"]
    host: HostRef
    name: Text
    subject: str
    status: Status  # critical | warning
    observed: float | None = None
    unit: str = ""
    eta: datetime | None = None


@dataclass(frozen=True)
class ClockResult:
    """One SLA clock of a ticket as of the report's end.

    ``outcome``: met (stopped within target), breached (target passed, stopped or not), running
    (still within target), not_applicable (the event was not needed: resolved before it happened),
    untracked (no target: "case by case").
    """

    clock: str
    target_s: float | None
    elapsed_s: float
    outcome: Literal["met", "breached", "running", "not_applicable", "untracked"]


@dataclass(frozen=True)
class TicketRow:
    id: int
    title: str
    severity: str  # L1…L4
    state: str
    source: str
    host: HostRef | None
    created_at: datetime
    resolved_at: datetime | None  # as of the report's end
    fault_type: str | None
    cause: str | None
    clocks: tuple[ClockResult, ...]
    opened_in_period: bool
    resolved_in_period: bool

    def clock(self, name: str) -> ClockResult | None:
        return next((c for c in self.clocks if c.clock == name), None)


@dataclass(frozen=True)
class TicketSummary:
    opened: int
    resolved: int
    open_at_end: int
    clocks_met: int
    clocks_breached: int

    @property
    def compliance_pct(self) -> float | None:
        judged = self.clocks_met + self.clocks_breached
        return 100.0 * self.clocks_met / judged if judged else None


@dataclass(frozen=True)
class ChecklistEntry:
    item_id: str
    category: str
    title: Text
    guidance: Text
    result: str | None  # ok | issue | not_applicable; None: not filled in
    remark: str
    checked_by: str | None
    checked_at: datetime | None


@dataclass(frozen=True)
class MaintenanceEntry:
    """系统维护记录表: a problem of the inspection an engineer fixed on the spot."""

    host: HostRef | None
    name: Text  # the check's display name
    subject: str
    symptom: str  # 问题的现象
    analysis: str  # 分析
    steps: str  # 排除步骤
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class MemoEntry:
    """系统维护备忘录: a problem of the inspection left for a follow-up ticket (a finding or a checklist
    row marked abnormal)."""

    host: HostRef | None  # None for a checklist row, which belongs to the site
    name: Text  # the check's display name or the checklist item's title
    subject: str
    status: str  # critical, warning, unknown or issue (a checklist row)
    observed: float | None
    unit: str
    ticket_id: int | None
    ticket_severity: str | None
    ticket_state: str | None


@dataclass(frozen=True)
class Line:
    """One line of a chart: ``key`` picks its colour and legend text (cpu, mem, disk, …)."""

    key: str
    points: tuple[Point, ...]
    label: str = ""  # a free label (a mount point); the legend uses the key's text when empty
    # The minimum per bucket where ``points`` are maxima (the fullest mount's): the floor of its band
    # when it is drawn as a sawtooth's envelope.
    lows: tuple[Point, ...] = ()


@dataclass(frozen=True)
class UtilisationChart:
    host: HostRef
    lines: tuple[Line, ...]  # cpu (average), mem (average), disk (fullest mount, maximum)


@dataclass(frozen=True)
class MountUsage:
    mount: str
    history: tuple[Point, ...]  # the maximum per chart step
    forecast: CapacityForecast | None
    low: tuple[Point, ...] = ()  # the minimum per chart step (the lower edge of a sawtooth's envelope)


@dataclass(frozen=True)
class DiskChart:
    """Disk usage of every mount of a host over the period, and where each is heading."""

    host: HostRef
    mounts: tuple[MountUsage, ...]
    limit: float = 100.0


@dataclass(frozen=True)
class MonthlyReport:
    header: ReportHeader
    inspection: InspectionInfo | None
    score: int | None
    previous_score: int | None
    score_trend: tuple[ScorePoint, ...]
    counts: StatusCounts
    top_risks: tuple[TopRisk, ...]
    hosts: tuple[HostChecks, ...]
    findings: tuple[FindingDetail, ...]  # warning and critical, worst first
    unknowns: tuple[FindingDetail, ...]  # checks that could not be evaluated
    forecasts: tuple[CapacityForecast, ...]  # crossings expected within the horizon
    forecast_horizon_days: int
    tickets: tuple[TicketRow, ...]
    ticket_summary: TicketSummary
    checklist: tuple[ChecklistEntry, ...]
    utilisation: tuple[UtilisationChart, ...]
    disks: tuple[DiskChart, ...]
    inspection_profile: str = "monthly"  # the profile whose run the report follows
    maintenance: tuple[MaintenanceEntry, ...] = ()  # problems of the run fixed on the spot
    # What the provider will do next: from the month's findings, forecasts and open tickets.
    next_steps: NextSteps | None = None
    memo: tuple[MemoEntry, ...] = ()  # problems of the run left for follow-up tickets

    @property
    def score_delta(self) -> int | None:
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


# -- quarterly -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    host: HostRef
    availability_pct: float | None  # share of judged hours the host was up
    down_hours: float
    hours: int  # hours judged (from the host's first data or the period start)


@dataclass(frozen=True)
class MonthUsage:
    month: Period
    cpu_avg: float | None
    cpu_peak: float | None
    mem_avg: float | None
    mem_peak: float | None
    disk_peak: float | None  # fullest mount, maximum


@dataclass(frozen=True)
class HostTrend:
    host: HostRef
    months: tuple[MonthUsage, ...]


@dataclass(frozen=True)
class RunningStatus:
    """设备的整体运行情况."""

    availability: tuple[Availability, ...]
    fleet_availability_pct: float | None
    trends: tuple[HostTrend, ...]
    fleet_lines: tuple[Line, ...]  # daily: cpu mean, mem mean, disk peak over every host
    score_trend: tuple[ScorePoint, ...]
    monthly_scores: tuple[tuple[Period, float | None], ...]
    # The average health score of this quarter and of the three before it, oldest first.
    quarter_scores: tuple[tuple[Period, float | None], ...] = ()


@dataclass(frozen=True)
class Breakdown:
    key: str  # hardware, config_error, L2, unclassified, …
    count: int


@dataclass(frozen=True)
class RepeatFault:
    ticket_id: int
    previous_id: int
    host: HostRef | None
    title: str
    at: datetime
    previous_at: datetime

    @property
    def days_between(self) -> float:
        return (self.at - self.previous_at).total_seconds() / 86400.0


@dataclass(frozen=True)
class Measure:
    """问题原因、解决方案、预防措施 and 临时性措施/长期性改进措施 recorded for resolved tickets: one
    entry per distinct set of measures, with every ticket that recorded it (ids ascending, and their
    distinct titles in the same order)."""

    ticket_ids: tuple[int, ...]
    titles: tuple[str, ...]
    cause: str
    solution: str
    prevention: str
    short_term: str
    long_term: str


@dataclass(frozen=True)
class SeverityTime:
    severity: str
    resolved: int
    mean_s: float


@dataclass(frozen=True)
class FaultAnalysis:
    """设备的故障分析及改进措施."""

    tickets: int
    by_type: tuple[Breakdown, ...]
    by_cause: tuple[Breakdown, ...]
    by_severity: tuple[Breakdown, ...]
    by_source: tuple[Breakdown, ...]
    repeats: tuple[RepeatFault, ...]
    resolved: int
    mttr_s: float | None  # mean of resolved − created over tickets resolved in the period
    mttr_by_severity: tuple[SeverityTime, ...]
    measures: tuple[Measure, ...]

    @property
    def repeat_rate_pct(self) -> float | None:
        return 100.0 * len(self.repeats) / self.tickets if self.tickets else None


@dataclass(frozen=True)
class SlaCompliance:
    clock: str
    met: int
    breached: int
    running: int
    not_applicable: int

    @property
    def compliance_pct(self) -> float | None:
        judged = self.met + self.breached
        return 100.0 * self.met / judged if judged else None


@dataclass(frozen=True)
class DurationStats:
    """Service-window time a clock ran until its event, over the clocks that stopped."""

    clock: str
    count: int
    mean_s: float | None
    median_s: float | None
    p90_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class SatisfactionSummary:
    ratings: int
    overall_pct: float | None
    attitude_pct: float | None
    quality_pct: float | None
    resolution_pct: float | None
    target_pct: float = 85.0

    @property
    def met(self) -> bool | None:
        return None if self.overall_pct is None else self.overall_pct > self.target_pct


@dataclass(frozen=True)
class ServiceSituation:
    """服务的整体情况."""

    tickets: int
    sla: tuple[SlaCompliance, ...]
    times: tuple[DurationStats, ...]
    satisfaction: SatisfactionSummary
    ticket_rows: tuple[TicketRow, ...]


@dataclass(frozen=True)
class OpenRisk:
    kind: Literal["ticket", "finding"]
    host: HostRef | None
    title: Text
    level: str  # L1…L4 for tickets, warning/critical for findings
    since: datetime
    ticket_id: int | None = None


@dataclass(frozen=True)
class RiskRow:
    """A row of the open-risk list: an open ticket, or the open findings of one check and status found
    at the same time, with every device that has it (in the order of the list)."""

    first: OpenRisk
    hosts: tuple[HostRef, ...]


def _title_key(title: Text | str) -> object:
    return title if isinstance(title, str) else tuple(sorted(title.items()))


@dataclass(frozen=True)
class Recommendation:
    """A generated recommendation: ``kind`` selects the sentence, ``params`` fill it in.

    ``text`` carries a bilingual sentence that comes from elsewhere (a check's recommendation).
    Smaller ``priority`` comes first.
    """

    kind: str
    priority: int
    params: Mapping[str, object] = field(default_factory=dict)
    text: Text | None = None


@dataclass(frozen=True)
class NextSteps:
    """下一步的工作计划及建议."""

    horizon_end: datetime
    forecasts: tuple[CapacityForecast, ...]
    open_risks: tuple[OpenRisk, ...]
    recommendations: tuple[Recommendation, ...]

    def risk_rows(self) -> tuple[RiskRow, ...]:
        """:attr:`open_risks` with the findings of one check, status and time on many devices in one
        row, where the first of them stood; tickets one row each."""
        rows: list[RiskRow] = []
        groups: dict[object, int] = {}
        for risk in self.open_risks:
            key = None if risk.kind == "ticket" else (_title_key(risk.title), risk.level, risk.since)
            at = groups.get(key) if key is not None else None
            if at is None:
                if key is not None:
                    groups[key] = len(rows)
                rows.append(RiskRow(risk, () if risk.host is None else (risk.host,)))
            elif risk.host is not None:
                rows[at] = RiskRow(rows[at].first, (*rows[at].hosts, risk.host))
        return tuple(rows)

    def headline(self, limit: int, per_kind: int) -> tuple[Recommendation, ...]:
        """The first ``limit`` recommendations with at most ``per_kind`` of each kind, in their order:
        a one-page summary names a bit of everything rather than five disks."""
        out: list[Recommendation] = []
        for rec in self.recommendations:
            if len(out) < limit and sum(r.kind == rec.kind for r in out) < per_kind:
                out.append(rec)
        return tuple(out)


@dataclass(frozen=True)
class QuarterlyReport:
    header: ReportHeader
    running: RunningStatus
    faults: FaultAnalysis
    service: ServiceSituation
    next_steps: NextSteps


Report = MonthlyReport | QuarterlyReport
