"""Adapters from what other parts produce to ticket :class:`Signal` values — the only coupling point.

Every input arrives typed:

- **inspection findings** — :class:`FindingBatch` (the ``Finding`` objects of one run) and manual
  checklist rows, judged by the ticket policy (:mod:`collector.tickets.policy`): a finding a rule
  opens a ticket for fires, ``ok`` or an ignored problem clears, an unmatched ``unknown`` says nothing;
- **forecasts** — :class:`inspections.signals.CapacityForecast`, one stored run per series (from
  :mod:`collector.predictions.service`): a crossing expected within the horizon fires; no crossing (or a later
  one) clears. Titles name the catalogue's display name and the resource, never a series id;
- **anomalies** — :class:`inspections.signals.Anomaly`, one stored run per series: ``firing`` (the
  predictions pass has applied likelihood, duration and rate limit) opens, clear closes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collector.tickets.config import AnomalyPolicy, ForecastPolicy
from collector.tickets.messages import duration, duration_zh
from collector.tickets.model import Severity, Signal, Source
from collector.tickets.policy import Decision, TicketPolicy
from inspections import ChecklistRow, Finding, Threshold
from inspections.signals import Anomaly, CapacityForecast, SeriesResult

# -- inspection findings and checklist rows ------------------------------------------------------


@dataclass(frozen=True)
class FindingBatch:
    """The findings of one completed inspection run, as the engine produced them."""

    run_id: int
    customer_id: str
    evaluated_at: datetime
    findings: Sequence[Finding]
    hostnames: Mapping[str, str] = field(default_factory=dict)


STATUS_ZH = {"ok": "正常", "warning": "警告", "critical": "严重", "unknown": "未知"}


def _measured(value: float | None, unit: str) -> str:
    """A measured value or level as the check states it: 93.5%, 918 attempts/h, 1,024 MiB."""
    if value is None or not math.isfinite(value):
        return "no value"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}".rstrip("0").rstrip(".")
    return text + unit if unit in ("%", "") else f"{text} {unit}"


def _threshold_text(t: Threshold, unit: str) -> str:
    sign = "≥" if t.direction == "above" else "<"
    parts = [f"{name} {sign} {_measured(level, unit)}" for name, level in (("warning", t.warn), ("critical", t.crit))
             if level is not None]
    return ", ".join(parts)


def _state(decision: Decision, status: str) -> bool | None:
    """Firing when a rule opens a ticket; ok, or a problem the policy ignores, counts as clear;
    an unknown nobody asked a ticket for says nothing (the check could not look)."""
    if decision.opens:
        return True
    return None if status == "unknown" else False


def finding_signal(f: Finding, batch: FindingBatch, policy: TicketPolicy) -> Signal:
    decision = policy.decide(f.check_id, f.category, f.status, f.severity, batch.customer_id)
    firing = _state(decision, f.status) if f.status != "ok" else False
    host = batch.hostnames.get(f.host_id, f.host_id)
    name_en, name_zh = f.name.get("en") or f.check_id, f.name.get("zh") or ""
    shown = _measured(f.observed, f.unit)
    where = f" {f.subject}" if f.subject else ""
    limits = _threshold_text(f.threshold, f.unit)
    # The title names the condition, not the value: it stays true while the value moves between runs.
    title = f"{name_en}{where} on {host}: {f.status}"
    title_zh = f"{host} {name_zh or name_en}{where}：{STATUS_ZH.get(f.status, f.status)}"
    lines = [f"{name_zh + ' / ' if name_zh else ''}{name_en}{where} on {host}: {f.status}, measured {shown}"
             + (f" (thresholds: {limits})" if limits else "")]
    if f.unknown_reason:
        lines.append(f"not evaluated: {f.unknown_reason}")
    if f.note:
        lines.append(" / ".join(v for v in (f.note.get("zh"), f.note.get("en")) if v))
    if f.recommendation:
        lines.append("recommendation: " + " / ".join(v for v in (f.recommendation.get("zh"),
                                                                 f.recommendation.get("en")) if v))
    lines.append(f"found by inspection run {batch.run_id} at {batch.evaluated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    finding = f.to_dict()
    return Signal(
        source=Source.INSPECTION, check_id=f.check_id, subject=f.subject, firing=firing,
        observed_at=batch.evaluated_at, host_id=f.host_id, customer_id=batch.customer_id,
        severity=decision.severity if decision.opens else Severity.L4, title=title, title_zh=title_zh,
        description="\n".join(lines),
        details={"finding": finding, "observed": finding["observed"], "run_id": batch.run_id,
                 "policy": decision.describe()},
        sla_profile=decision.rule.sla_profile if decision.rule is not None else None,
    )


def finding_signals(batch: FindingBatch, policy: TicketPolicy) -> list[Signal]:
    """One signal per finding of the run: problems the policy opens tickets for fire, the rest clear."""
    return [finding_signal(f, batch, policy) for f in batch.findings]


def checklist_signals(rows: Iterable[ChecklistRow], run_id: int, customer_id: str, customer_name: str,
                      policy: TicketPolicy, at: datetime) -> list[Signal]:
    """A manual checklist row marked abnormal (``issue``) fires per the policy; marked ok clears.

    A row belongs to the customer's site, not to one host: its subject is the customer, so each
    customer has at most one open ticket per checklist item.
    """
    out: list[Signal] = []
    for r in rows:
        if r.result is None:
            continue
        decision = policy.decide(r.item_id, r.category, "issue", "medium", customer_id)
        firing = decision.opens and r.result == "issue"
        title_en, title_zh = r.title.get("en") or r.item_id, r.title.get("zh") or ""
        remark = f": {r.remark}" if r.remark else ""
        lines = [f"{title_zh + ' / ' if title_zh else ''}{title_en}: marked abnormal by {r.checked_by or 'an engineer'}"
                 f" during inspection run {run_id}{remark}",
                 "expected: " + " / ".join(v for v in (r.guidance.get("zh"), r.guidance.get("en")) if v)]
        out.append(Signal(
            source=Source.INSPECTION, check_id=r.item_id, subject=customer_id, firing=firing,
            observed_at=r.checked_at or at, host_id=None, customer_id=customer_id,
            severity=decision.severity if firing else Severity.L4,
            title=f"{title_en} at {customer_name} marked abnormal{remark}",
            title_zh=f"{customer_name} {title_zh or title_en}检查异常" + (f"：{r.remark}" if r.remark else ""),
            description="\n".join(lines),
            details={"checklist": r.to_dict(), "run_id": run_id, "policy": decision.describe()},
            sla_profile=decision.rule.sla_profile if firing and decision.rule is not None else None,
        ))
    return out


# -- forecasts ---------------------------------------------------------------------------------


def downsample(points: list[tuple[float, float]], max_points: int) -> list[list[float]]:
    """At most ``max_points`` points: bucket means over equal time spans, the newest point kept exactly."""
    if len(points) <= max_points:
        return [[a, b] for a, b in points]
    t0, t1 = points[0][0], points[-1][0]
    n = max_points - 1
    width = (t1 - t0) / n if t1 > t0 else 1.0
    sums: dict[int, list[float]] = {}
    for ts, v in points[:-1]:
        k = min(n - 1, int((ts - t0) / width))
        acc = sums.setdefault(k, [0.0, 0.0, 0.0])
        acc[0] += ts
        acc[1] += v
        acc[2] += 1
    out = [[acc[0] / acc[2], acc[1] / acc[2]] for _, acc in sorted(sums.items())]
    out.append([points[-1][0], points[-1][1]])
    return out


def _what(r: SeriesResult) -> str:
    """The English display name and the resource, as people read them: "Disk /data"."""
    name = r.display["en"]
    return f"{name} {r.subject}" if r.subject else name


def _what_zh(r: SeriesResult) -> str:
    """The Chinese display name and the resource: "磁盘 /data"."""
    name = r.display.get("zh") or r.display["en"]
    return f"{name} {r.subject}" if r.subject else name


def _reaches_zh(fc: CapacityForecast) -> str:
    if fc.result.direction == "up" and fc.unit == "%" and fc.limit >= 100.0:
        return "写满" if fc.series.startswith("disk.") else "耗尽"
    if fc.result.direction == "down" and fc.limit == 0.0:
        return "耗尽"
    return f"达到 {_quantity(fc.limit, fc.unit)}"


def _reaches(fc: CapacityForecast) -> str:
    if fc.result.direction == "up" and fc.unit == "%" and fc.limit >= 100.0:
        return "full"
    if fc.result.direction == "down" and fc.limit == 0.0:
        return "exhausted"
    return f"at {_quantity(fc.limit, fc.unit)}"


def forecast_signals(forecasts: Iterable[CapacityForecast], policy: ForecastPolicy) -> list[Signal]:
    """One signal per stored forecast run: a crossing expected within the horizon fires, else it clears."""
    out: list[Signal] = []
    for fc in forecasts:
        res = fc.result
        left, left_low = fc.result.time_left_s, _left(res.eta_low, res.now)
        horizon = policy.horizon
        firing = left is not None and (left <= horizon or (policy.band_edge and left_low is not None
                                                          and left_low <= horizon))
        what, what_zh = _what(fc), f"{fc.hostname} {_what_zh(fc)}"
        if firing and left is not None and left <= horizon:
            title = f"{what} on {fc.hostname} {_reaches(fc)} within {duration(policy.within(left))}"
            title_zh = f"{what_zh} 预计 {duration_zh(policy.within(left))}内{_reaches_zh(fc)}"
        elif firing:
            # Raised by the early edge of the band: the likely crossing is later than the horizon.
            title = f"{what} on {fc.hostname} could be {_reaches(fc)} within {duration(horizon)}"
            title_zh = f"{what_zh} 可能在 {duration_zh(horizon)}内{_reaches_zh(fc)}"
        else:
            title = f"{what} on {fc.hostname}: trend toward its limit"
            title_zh = f"{what_zh} 趋向上限"
        payload = {**res.to_dict(), "series": fc.series, "labels": dict(fc.labels), "display": fc.display,
                   "subject": fc.subject, "unit": fc.unit, "horizon_s": horizon, "run_id": fc.run_id,
                   "computed_at": fc.computed_at.isoformat(), "method": fc.method,
                   "points": downsample(list(fc.points), policy.max_points)}
        band = (f" (band {duration(left_low)} … {duration(_left(res.eta_high, res.now))})"
                if res.eta_low is not None else "")
        description = (f"Forecast: {what} reaches {_quantity(fc.limit, fc.unit)} in {duration(left)}{band}"
                       + (f". {res.reason}" if res.reason else ""))
        out.append(Signal(
            source=Source.FORECAST, check_id=fc.check_id, subject=fc.labels_key, firing=firing,
            observed_at=datetime.fromtimestamp(res.now, tz=UTC), host_id=fc.host_id, customer_id=fc.customer_id,
            severity=policy.severity_for(left) if left is not None else policy.default_severity, title=title,
            title_zh=title_zh, description=description, details={"observed": res.level, "run_id": fc.run_id},
            forecast=payload if firing else None,
        ))
    return out


def _left(eta: float | None, at: float) -> float | None:
    return None if eta is None else max(0.0, eta - at)


# -- anomaly scores ----------------------------------------------------------------------------


def anomaly_signals(anomalies: Iterable[Anomaly], policy: AnomalyPolicy) -> list[Signal]:
    """One signal per stored anomaly run: firing (the predictions pass applied duration and rate
    limit) opens or updates a ticket, clear closes it after the hysteresis."""
    return [_anomaly_signal(a, policy) for a in anomalies]


def _anomaly_signal(a: Anomaly, policy: AnomalyPolicy) -> Signal:
    what, where, unit, ep = _what(a), a.hostname, a.unit, a.episode
    if not a.firing or ep is None or a.band is None:
        return Signal(source=Source.ANOMALY, check_id=a.check_id, subject=a.labels_key, firing=False,
                      observed_at=a.computed_at, host_id=a.host_id, customer_id=a.customer_id,
                      severity=policy.severity, title=f"{what} on {where} back within its usual range",
                      title_zh=f"{where} {_what_zh(a)} 已恢复正常范围", description="",
                      details={"series": a.series, "labels": dict(a.labels), "run_id": a.run_id})
    low, high = a.band
    seen = _quantity(ep.observed, unit)
    expected = f"expected {_quantity(low, '')}–{_quantity(high, unit)}"
    description = (f"{what} on {where}: {expected}, observed {seen}"
                   + (f" for {duration(ep.duration_s)}" if ep.duration_s > 0 else "")
                   + (", still going on" if ep.ongoing else "") + f" (anomaly likelihood {ep.score:.2f}).")
    details = {"score": ep.score, "observed": ep.observed, "peak": ep.peak, "expected": ep.expected,
               "band_low": low, "band_high": high, "start": ep.start, "duration_s": ep.duration_s,
               "ongoing": ep.ongoing, "unit": unit, "series": a.series, "labels": dict(a.labels), "run_id": a.run_id}
    return Signal(source=Source.ANOMALY, check_id=a.check_id, subject=a.labels_key, firing=True,
                  observed_at=datetime.fromtimestamp(ep.detected_at, tz=UTC), host_id=a.host_id,
                  customer_id=a.customer_id,
                  severity=policy.severity, title=f"Unusual {what} on {where}: {seen} ({expected})",
                  title_zh=f"{where} {_what_zh(a)} 异常：{seen}（正常 {_quantity(low, '')}–{_quantity(high, unit)}）",
                  description=description, details=details)


def _quantity(value: Any, unit: str) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "?"
    magnitude = abs(float(value))
    text = f"{value:.0f}" if magnitude >= 10 else f"{value:.1f}" if magnitude >= 1 else f"{value:.2f}"
    return f"{text} {unit}" if unit else text
