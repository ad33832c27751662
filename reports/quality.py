"""The provider's service-quality report (服务质量关键指标分析), as a model and as HTML or PDF.

Where the monthly and quarterly reports tell one customer how its systems ran, this one tells the
service provider how its service ran across every customer in a period: SLA compliance by
severity and by customer, how long responses and restorations took, satisfaction against the
target, the 90-day repeat-fault rate, and the knowledge base of resolved problems (常见问题及解决方案)
counted by frequency. The figures are the same the customers' quarterly reports show, summed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from reports.i18n import STRINGS, Lang
from reports.model import DurationStats, SatisfactionSummary, SlaCompliance
from reports.periods import Period
from reports.render import Format, HtmlLocale, _counter_content, _environment, _lang_tag, html_to_pdf

# Upper edges of the response and restore time histogram, in seconds; the last bucket is open.
HISTOGRAM_EDGES_S: tuple[float, ...] = (15 * 60, 3600, 4 * 3600, 12 * 3600, 24 * 3600)


@dataclass(frozen=True)
class SeveritySla:
    severity: str  # L1…L4
    tickets: int
    respond: SlaCompliance | None
    restore: SlaCompliance | None


@dataclass(frozen=True)
class CustomerQuality:
    customer_id: str
    name: str
    tickets: int
    respond: SlaCompliance | None
    restore: SlaCompliance | None
    satisfaction: SatisfactionSummary
    repeats: int


@dataclass(frozen=True)
class Histogram:
    """How many clocks stopped within each bucket of :data:`HISTOGRAM_EDGES_S`."""

    clock: str
    counts: tuple[int, ...]  # len(HISTOGRAM_EDGES_S) + 1


@dataclass(frozen=True)
class KnownProblem:
    problem: str
    count: int
    cause: str
    solution: str
    prevention: str
    customers: int


@dataclass(frozen=True)
class QualityReport:
    provider: str
    period: Period
    period_start: datetime
    period_end: datetime
    data_until: datetime
    timezone: str
    generated_at: datetime
    tickets: int
    sla: tuple[SlaCompliance, ...]
    by_severity: tuple[SeveritySla, ...]
    by_customer: tuple[CustomerQuality, ...]
    times: tuple[DurationStats, ...]
    histograms: tuple[Histogram, ...]
    satisfaction: SatisfactionSummary
    repeats: int
    knowledge: tuple[KnownProblem, ...]

    @property
    def repeat_rate_pct(self) -> float | None:
        return 100.0 * self.repeats / self.tickets if self.tickets else None

    @property
    def partial(self) -> bool:
        return self.data_until < self.period_end


def histogram(clock: str, durations_s: Sequence[float]) -> Histogram:
    counts = [0] * (len(HISTOGRAM_EDGES_S) + 1)
    for d in durations_s:
        counts[next((i for i, edge in enumerate(HISTOGRAM_EDGES_S) if d < edge), len(HISTOGRAM_EDGES_S))] += 1
    return Histogram(clock, tuple(counts))


def sum_sla(parts: Sequence[SlaCompliance | None], clock: str) -> SlaCompliance | None:
    """Compliance of one clock summed over groups (customers or severities)."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    return SlaCompliance(clock, met=sum(p.met for p in present), breached=sum(p.breached for p in present),
                         running=sum(p.running for p in present),
                         not_applicable=sum(p.not_applicable for p in present))


def weighted_satisfaction(parts: Sequence[SatisfactionSummary], target_pct: float) -> SatisfactionSummary:
    """Satisfaction over every rating of every group (each group's means weighted by its ratings)."""
    rated = [p for p in parts if p.ratings]
    total = sum(p.ratings for p in rated)

    def mean_of(name: str) -> float | None:
        values = [(getattr(p, name), p.ratings) for p in rated if getattr(p, name) is not None]
        return sum(v * n for v, n in values) / sum(n for _, n in values) if values else None

    return SatisfactionSummary(total, mean_of("overall_pct"), mean_of("attitude_pct"), mean_of("quality_pct"),
                               mean_of("resolution_pct"), target_pct)


# Texts of this report, beside the shared report vocabulary of reports/i18n.py.
QUALITY_STRINGS: Mapping[Lang, Mapping[str, str]] = {
    "zh": {
        "q.title": "服务质量关键指标分析",
        "q.scope": "全部客户",
        "q.customers": "客户数",
        "q.tickets": "工单数",
        "q.kpis": "关键指标",
        "q.sla_by_severity": "按严重级别的 SLA 达标情况",
        "q.sla_by_customer": "按客户的 SLA 达标情况",
        "q.times": "响应与恢复时间分布",
        "q.satisfaction": "客户满意度",
        "q.repeats": "90 天重复故障率",
        "q.knowledge": "常见问题及解决方案",
        "q.respond_pct": "响应达标率",
        "q.restore_pct": "恢复达标率",
        "q.satisfaction_pct": "满意度",
        "q.repeat_count": "重复故障",
        "q.count": "次数",
        "q.problem": "问题",
        "q.customer_count": "涉及客户",
        "q.bucket": "用时",
        "q.ratings": "评价数",
        "q.target": "目标",
        "q.repeat_line": "本期 {tickets} 张工单中有 {repeats} 张是同一设备同一问题在 90 天内再次发生，"
                         "重复故障率 {pct}。",
        "q.none": "本期没有数据。",
        "q.kpi_sentence": "本期共 {customers} 个客户登记工单 {tickets} 张；响应达标率 {respond}，恢复达标率 {restore}；"
                          "客户满意度 {satisfaction}（目标大于 {target}）；90 天重复故障率 {repeats}。",
        "q.knowledge_note": "按出现次数排列，解决方案取最近一次的处理记录。",
        "q.times_note": "时间按各客户 SLA 的服务时间窗口计算（窗口外和节假日不计）。",
        "q.bucket.0": "15 分钟内", "q.bucket.1": "15 分钟–1 小时", "q.bucket.2": "1–4 小时",
        "q.bucket.3": "4–12 小时", "q.bucket.4": "12–24 小时", "q.bucket.5": "超过 24 小时",
    },
    "en": {
        "q.title": "Service quality key indicators",
        "q.scope": "All customers",
        "q.customers": "Customers",
        "q.tickets": "Tickets",
        "q.kpis": "Key indicators",
        "q.sla_by_severity": "SLA compliance by severity",
        "q.sla_by_customer": "SLA compliance by customer",
        "q.times": "Response and restore times",
        "q.satisfaction": "Customer satisfaction",
        "q.repeats": "Repeat faults within 90 days",
        "q.knowledge": "Known problems and their solutions",
        "q.respond_pct": "Response SLA met",
        "q.restore_pct": "Restore SLA met",
        "q.satisfaction_pct": "Satisfaction",
        "q.repeat_count": "Repeat faults",
        "q.count": "Times",
        "q.problem": "Problem",
        "q.customer_count": "Customers",
        "q.bucket": "Time taken",
        "q.ratings": "Ratings",
        "q.target": "Target",
        "q.repeat_line": "{repeats} of the period's {tickets} tickets were the same problem on the same device again "
                         "within 90 days: a repeat-fault rate of {pct}.",
        "q.none": "No data in this period.",
        "q.kpi_sentence": "{customers} customers registered {tickets} tickets; the response SLA was met for "
                          "{respond} and the restore SLA for {restore}; satisfaction {satisfaction} (target: above "
                          "{target}); repeat faults within 90 days {repeats}.",
        "q.knowledge_note": "Most frequent first; the solution is the one recorded most recently.",
        "q.times_note": "Times count service-window hours of each customer's SLA (outside the window and holidays "
                        "do not count).",
        "q.bucket.0": "under 15 min", "q.bucket.1": "15 min – 1 h", "q.bucket.2": "1–4 h",
        "q.bucket.3": "4–12 h", "q.bucket.4": "12–24 h", "q.bucket.5": "over 24 h",
    },
}


class QualityLocale(HtmlLocale):
    def __init__(self, lang: Lang, tz: ZoneInfo) -> None:
        super().__init__(lang, tz)
        self.strings = {**STRINGS[lang], **QUALITY_STRINGS[lang]}


def render_quality_html(report: QualityReport, lang: Lang) -> str:
    loc = QualityLocale(lang, ZoneInfo(report.timezone))
    sections = [(key, loc.t(f"q.{key}")) for key in
                ("kpis", "sla_by_severity", "sla_by_customer", "times", "satisfaction", "repeats", "knowledge")]
    context: dict[str, Any] = {
        "r": report, "loc": loc, "sections": sections, "section_title": dict(sections),
        "title": loc.t("q.title"), "html_lang": _lang_tag(lang),
        "page_counter": Markup(_counter_content(QUALITY_STRINGS[lang].get("page_of", STRINGS[lang]["page_of"]))),
        "doc_title": f"{report.provider} · {loc.t('q.title')} · {loc.period(report.period)}",
        "buckets": [loc.t(f"q.bucket.{i}") for i in range(len(HISTOGRAM_EDGES_S) + 1)],
    }
    return _environment().get_template("quality.html.j2").render(**context)


def render_quality(report: QualityReport, lang: Lang, fmt: Format) -> bytes:
    html = render_quality_html(report, lang)
    if fmt == "html":
        return html.encode("utf-8")
    if fmt == "pdf":
        return html_to_pdf(html)
    raise ValueError(f"unknown report format {fmt!r}: use html or pdf")
