"""Generated recommendations for the quarterly report (下一步的工作计划及建议), from the report's own numbers.

Rules, in the order of their priority:

1. capacity: every forecast crossing before the horizon, the earliest first;
2. repeat faults: every item that failed again within 90 days;
3. critical findings of the last inspection: the check's own recommendation, once per check;
4. availability under ``availability_below`` on a device;
5. SLA compliance of a clock under ``sla_below``;
6. satisfaction not above its target (or no rating at all);
7. tickets open longer than ``long_open_days``;
8. a monthly CPU or memory average above ``resource_avg_above`` on a device.

With none of these, one sentence says to keep the current plan. The texts are in :mod:`reports.i18n`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reports.model import (
    CapacityForecast,
    FaultAnalysis,
    OpenRisk,
    Recommendation,
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
    """A check with critical findings in the last inspection: its name, on how many devices, and advice."""

    check_id: str
    name: Text
    hosts: int
    recommendation: Text


def quarterly_recommendations(running: RunningStatus, faults: FaultAnalysis, service: ServiceSituation,
                              forecasts: Sequence[CapacityForecast], open_risks: Sequence[OpenRisk],
                              advice: Sequence[FindingAdvice], now: datetime,
                              rules: Rules = Rules()) -> tuple[Recommendation, ...]:
    out: list[Recommendation] = []
    for fc in sorted((f for f in forecasts if f.eta is not None), key=lambda f: f.eta or now):
        what = {lang: f"{name} {fc.subject}" if fc.subject else name for lang, name in fc.display.items()}
        out.append(Recommendation("capacity", 1, {"host": fc.hostname, "what": what, "eta": fc.eta,
                                                  "eta_low": fc.eta_low or fc.eta}))
    repeated = Counter((r.host.hostname if r.host else "—", r.title) for r in faults.repeats)
    for (host, title), n in sorted(repeated.items()):
        # The sentence names the device already: "web-01 的“web-01: /data 写满”" reads twice.
        shown = title.removeprefix(f"{host}:").removeprefix(f"{host} ").strip() or title
        out.append(Recommendation("repeat", 2, {"host": host, "title": shown, "count": n + 1}))
    for a in sorted(advice, key=lambda a: (-a.hosts, a.check_id)):
        out.append(Recommendation("finding", 3, {"name": a.name, "hosts": a.hosts}, text=a.recommendation))
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
    stale = [r for r in open_risks
             if r.kind == "ticket" and (now - r.since).total_seconds() > rules.long_open_days * 86400]
    if stale:
        out.append(Recommendation("long_open", 7, {"count": len(stale), "days": rules.long_open_days}))
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
