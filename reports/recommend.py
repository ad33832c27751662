"""Generated recommendations (下一步的工作计划及建议), from a report's own numbers.

The quarterly report's rules, in the order of their priority:

1. capacity: every forecast crossing before the horizon, the earliest first;
2. repeat faults: every item that failed again within 90 days;
3. critical findings of the last inspection: the check's own recommendation, once per check;
4. availability under ``availability_below`` on a device;
5. SLA compliance of a clock under ``sla_below``;
6. satisfaction not above its target (or no rating at all);
7. tickets open longer than ``long_open_days``;
8. a monthly CPU or memory average above ``resource_avg_above`` on a device.

The monthly report's summary says what the provider will do next from the month alone: rules 1, 2,
3 (with the inspection's warnings after its critical findings) and 7, the inspection a month without
one still needs, and the tickets still open at the month's end. With none of these, one sentence
says to keep the current plan. The texts are in
:mod:`reports.i18n`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reports.model import (
    CapacityForecast,
    FaultAnalysis,
    FindingDetail,
    OpenRisk,
    Recommendation,
    RepeatFault,
    RunningStatus,
    ServiceSituation,
    Text,
)


@dataclass(frozen=True)
class Rules:
    availability_below: float = 99.5
    sla_below: float = 95.0
    long_open_days: int = 30
    resource_avg_above: float = 80.0


@dataclass(frozen=True)
class FindingAdvice:
    """A check with findings in the last inspection: its name, on how many devices, and advice."""

    check_id: str
    name: Text
    hosts: int
    recommendation: Text
    status: str = "critical"


def finding_advice(findings: Sequence[FindingDetail], statuses: Sequence[str] = ("critical",)
                   ) -> list[FindingAdvice]:
    """One advice per check with findings of ``statuses`` (the worst status of the check), with the
    devices it affects; checks without a recommendation give none."""
    by_check: dict[str, tuple[FindingDetail, set[str], str]] = {}
    for f in findings:
        if f.status not in statuses or not f.recommendation:
            continue
        first, hosts, worst = by_check.setdefault(f.check_id, (f, set(), f.status))
        hosts.add(f.host.host_id)
        if statuses.index(f.status) < statuses.index(worst):
            by_check[f.check_id] = (first, hosts, f.status)
    return [FindingAdvice(check_id, dict(f.name), len(hosts), dict(f.recommendation), worst)
            for check_id, (f, hosts, worst) in by_check.items()]


def _capacity(forecasts: Sequence[CapacityForecast], now: datetime) -> list[Recommendation]:
    out = []
    for fc in sorted((f for f in forecasts if f.eta is not None), key=lambda f: f.eta or now):
        what = {lang: f"{name} {fc.subject}" if fc.subject else name for lang, name in fc.display.items()}
        out.append(Recommendation("capacity", 1, {"host": fc.hostname, "what": what, "eta": fc.eta,
                                                  "eta_low": fc.eta_low or fc.eta}))
    return out


def _repeats(repeats: Sequence[RepeatFault]) -> list[Recommendation]:
    out = []
    repeated = Counter((r.host.hostname if r.host else "—", r.title) for r in repeats)
    for (host, title), n in sorted(repeated.items()):
        # The sentence names the device already: "web-01 的“web-01: /data 写满”" reads twice.
        shown = title.removeprefix(f"{host}:").removeprefix(f"{host} ").strip() or title
        out.append(Recommendation("repeat", 2, {"host": host, "title": shown, "count": n + 1}))
    return out


def _findings(advice: Sequence[FindingAdvice]) -> list[Recommendation]:
    """Critical checks first (priority 3), then warnings (4); the most devices first within each."""
    return [Recommendation("finding", 3 if a.status == "critical" else 4, {"name": a.name, "hosts": a.hosts},
                           text=a.recommendation)
            for a in sorted(advice, key=lambda a: (a.status != "critical", -a.hosts, a.check_id))]


def _stale(open_risks: Sequence[OpenRisk], now: datetime, rules: Rules) -> list[OpenRisk]:
    return [r for r in open_risks
            if r.kind == "ticket" and (now - r.since).total_seconds() > rules.long_open_days * 86400]


def _long_open(stale: Sequence[OpenRisk], rules: Rules) -> list[Recommendation]:
    return [Recommendation("long_open", 7, {"count": len(stale), "days": rules.long_open_days})] if stale else []


def monthly_recommendations(forecasts: Sequence[CapacityForecast], repeats: Sequence[RepeatFault],
                            open_risks: Sequence[OpenRisk], advice: Sequence[FindingAdvice], now: datetime,
                            inspected: bool = True, rules: Rules = Rules()) -> tuple[Recommendation, ...]:
    """What the provider will do after the month: act before each forecast crossing, find the root
    cause of repeat faults, follow the inspection's advice (or carry out the inspection the month
    lacks: without one nothing says the devices ran steadily), and see the open tickets through."""
    stale = _stale(open_risks, now, rules)
    out = [*_capacity(forecasts, now), *_repeats(repeats), *_findings(advice), *_long_open(stale, rules)]
    if not inspected:
        out.append(Recommendation("inspect", 5))
    # Predictive tickets are covered by their forecast's sentence already.
    linked = {fc.ticket_id for fc in forecasts if fc.ticket_id is not None}
    recent = [r for r in open_risks if r.kind == "ticket" and r not in stale and r.ticket_id not in linked]
    if recent:
        out.append(Recommendation("open_tickets", 7, {"count": len(recent)}))
    if not out:
        out.append(Recommendation("keep", 9))
    return tuple(sorted(out, key=lambda r: r.priority))


def quarterly_recommendations(running: RunningStatus, faults: FaultAnalysis, service: ServiceSituation,
                              forecasts: Sequence[CapacityForecast], open_risks: Sequence[OpenRisk],
                              advice: Sequence[FindingAdvice], now: datetime,
                              rules: Rules = Rules()) -> tuple[Recommendation, ...]:
    out = [*_capacity(forecasts, now), *_repeats(faults.repeats), *_findings(advice)]
    for av in running.availability:
        if av.availability_pct is not None and av.availability_pct < rules.availability_below:
            out.append(Recommendation("availability", 4, {"host": av.host.hostname, "pct": av.availability_pct,
                                                          "hours": round(av.down_hours, 1)}))
    for sla in service.sla:
        pct = sla.compliance_pct
        if pct is not None and pct < rules.sla_below:
            out.append(Recommendation("sla", 5, {"clock": sla.clock, "pct": pct, "target": rules.sla_below}))
    sat = service.satisfaction
    if sat.overall_pct is None:
        if service.tickets:
            out.append(Recommendation("satisfaction_none", 6))
    elif not sat.met:
        out.append(Recommendation("satisfaction", 6, {"pct": sat.overall_pct, "target": sat.target_pct}))
    out += _long_open(_stale(open_risks, now, rules), rules)
    for trend in running.trends:
        for resource in ("cpu", "mem"):
            averages = [getattr(m, f"{resource}_avg") for m in trend.months]
            peak = max((v for v in averages if v is not None), default=None)
            if peak is not None and peak > rules.resource_avg_above:
                out.append(Recommendation("resource", 8, {"host": trend.host.hostname, "resource": resource,
                                                          "pct": peak}))
    if not out:
        out.append(Recommendation("keep", 9))
    return tuple(sorted(out, key=lambda r: r.priority))
