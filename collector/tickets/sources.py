"""Adapters from what other parts produce to ticket :class:`Signal` values — the only coupling point.

Inputs are read loosely (objects with ``to_dict()``, dataclasses or plain mappings), so the inspection
engine, the forecaster and the anomaly scorer can evolve without touching the ticket service:

- **inspection findings** — ``inspections.model.Finding`` (or its ``to_dict()``), a ``HostResult`` or a
  whole ``InspectionResult``: ``warning``/``critical`` fire, ``ok`` clears, ``unknown`` says nothing
  (configurable in ``tickets.findings``);
- **forecasts** — one item per series: ``host_id``, ``series`` (catalogue name), ``labels``,
  ``forecast`` (``inspections.forecast.Forecast`` or its ``to_dict()``), and the series behind it as
  ``points`` (``[[unix_s, value], …]``) or ``ts``/``values`` arrays. A crossing expected within the
  horizon fires; no crossing (or a later one) clears;
- **anomaly episodes** — ``host_id``, ``series``, ``labels``, ``score`` (likelihood in [0, 1]),
  ``observed``, ``band_low``/``band_high`` (the expected band), ``duration_s``, ``display`` and
  ``unit``; ``firing`` when the caller has applied the policy, else ``min_likelihood`` and
  ``min_duration`` decide.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from collector.tickets.config import AnomalyPolicy, FindingPolicy, ForecastPolicy
from collector.tickets.messages import duration
from collector.tickets.model import Severity, Signal, Source


def as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    raise TypeError(f"cannot read {type(obj).__name__} as a mapping: pass a dict, a dataclass or an object "
                    "with to_dict()")


def _time(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    t = datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def labels_subject(labels: Mapping[str, Any] | None) -> str:
    items = labels or {}
    return ",".join(f"{k}={items[k]}" for k in sorted(items))


# -- inspection findings -----------------------------------------------------------------------


def _flatten_findings(items: Any) -> Iterable[tuple[dict[str, Any], str | None, Any]]:
    """(finding, customer_id, evaluated_at) from a result, host results or findings."""
    if not isinstance(items, Mapping) and hasattr(items, "hosts") and hasattr(items, "evaluated_at"):
        items = as_dict(items)
    if isinstance(items, Mapping) and "hosts" in items:
        at = items.get("evaluated_at")
        for h in items["hosts"]:
            hd = as_dict(h)
            for f in hd.get("findings", []):
                yield as_dict(f), hd.get("customer_id"), at
        return
    if isinstance(items, Mapping) and "findings" in items:
        for f in items["findings"]:
            yield as_dict(f), items.get("customer_id"), None
        return
    for item in items:
        d = as_dict(item)
        if "findings" in d and "check_id" not in d:
            yield from _flatten_findings(d)
        else:
            yield d, d.get("customer_id"), d.get("evaluated_at")


def _bi(name: Any, lang: str = "en") -> str:
    if isinstance(name, Mapping):
        return str(name.get(lang) or name.get("en") or name.get("zh") or "")
    return str(name or "")


def finding_signals(findings: Any, policy: FindingPolicy, now: datetime) -> list[Signal]:
    out: list[Signal] = []
    for f, customer_id, evaluated_at in _flatten_findings(findings):
        status = f.get("status")
        if status in policy.statuses:
            firing: bool | None = True
        elif status == "ok":
            firing = False
        else:
            firing = None
        level = str(f.get("severity") or "medium")
        table = next((m for k, m in policy.severity.items() if k == status), {}) if firing else {}
        severity = next((v for k, v in table.items() if k == level), Severity.L3 if firing else Severity.L4)
        subject = f.get("subject") or ""
        host = f.get("host_id")
        observed, unit = f.get("observed"), f.get("unit") or ""
        name_en, name_zh = _bi(f.get("name"), "en") or f["check_id"], _bi(f.get("name"), "zh")
        shown = f"{observed:g}{unit}" if isinstance(observed, int | float) else "no value"
        title = f"{name_en}{f' {subject}' if subject else ''} on {host}: {status} ({shown})"
        thr = f.get("threshold") or {}
        rec = f.get("recommendation") or {}
        lines = [f"{name_zh + ' / ' if name_zh else ''}{name_en}: {status}, observed {shown}"
                 + (f" (warn {thr.get('warn')}, crit {thr.get('crit')}, {thr.get('direction')})" if thr else "")]
        if f.get("unknown_reason"):
            lines.append(f"unknown: {f['unknown_reason']}")
        if rec:
            lines.append("recommendation: " + " / ".join(str(v) for v in (rec.get("en"), rec.get("zh")) if v))
        out.append(Signal(
            source=Source.INSPECTION, check_id=str(f["check_id"]), subject=subject, firing=firing,
            observed_at=_time(evaluated_at, now), host_id=host, customer_id=customer_id or f.get("customer_id"),
            severity=severity, title=title, description="\n".join(lines), details={"finding": f, "observed": observed},
        ))
    return out


# -- forecasts ---------------------------------------------------------------------------------


def _points(item: Mapping[str, Any]) -> list[tuple[float, float]]:
    if item.get("points") is not None:
        pts = [(float(p[0]), float(p[1])) for p in item["points"]]
    elif item.get("ts") is not None and item.get("values") is not None:
        pts = [(float(a), float(b)) for a, b in zip(item["ts"], item["values"], strict=True)]
    else:
        pts = []
    return [(a, b) for a, b in pts if math.isfinite(a) and math.isfinite(b)]


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


def forecast_signals(items: Iterable[Any], policy: ForecastPolicy, now: datetime) -> list[Signal]:
    out: list[Signal] = []
    for raw in items:
        item = as_dict(raw)
        fc = as_dict(item["forecast"]) if item.get("forecast") is not None else item
        series = str(item.get("series") or item.get("name") or item.get("metric") or "")
        if not series:
            raise ValueError("a forecast item needs 'series' (the catalogue name, e.g. disk.used_percent)")
        labels = dict(item.get("labels") or {})
        host = item.get("host_id")
        host_name = item.get("hostname") or host
        at = float(fc.get("now") or now.timestamp())
        eta = fc.get("eta")
        horizon = float(item.get("horizon_s") or fc.get("horizon_s") or policy.horizon)
        left = None if eta is None else max(0.0, float(eta) - at)
        left_low = _left(fc.get("eta_low"), at)
        firing = left is not None and (left <= horizon or (policy.band_edge and left_low is not None
                                                          and left_low <= horizon))
        subject = labels_subject(labels)
        limit = fc.get("limit")
        where = f" {subject}" if subject else ""
        title = (f"{series}{where} on {host_name} expected to reach {limit:g} "
                 f"within {duration(policy.within(left if left is not None else horizon))}"
                 if firing and isinstance(limit, int | float)
                 else f"{series}{where} on {host_name}: trend toward limit")
        payload = {
            **{k: v for k, v in fc.items() if k not in ("points", "ts", "values")},
            "series": series, "labels": labels, "unit": item.get("unit"), "horizon_s": horizon,
            "points": downsample(_points(item), policy.max_points),
        }
        reason = fc.get("reason")
        description = (f"Forecast: {series}{where} reaches {limit} in {duration(left)}"
                       + (f" (band {duration(_left(fc.get('eta_low'), at))} … "
                          f"{duration(_left(fc.get('eta_high'), at))})" if fc.get("eta_low") is not None else "")
                       + (f". {reason}" if reason else ""))
        out.append(Signal(
            source=Source.FORECAST, check_id=f"forecast.{series}", subject=subject, firing=firing,
            observed_at=_time(at, now), host_id=host, customer_id=item.get("customer_id"),
            severity=policy.severity_for(left) if left is not None else policy.default_severity, title=title,
            description=description, details={"observed": fc.get("level")}, forecast=payload if firing else None,
        ))
    return out


def _left(eta: Any, at: float) -> float | None:
    return None if eta is None else max(0.0, float(eta) - at)


# -- anomaly scores ----------------------------------------------------------------------------


def anomaly_signals(items: Iterable[Any], policy: AnomalyPolicy, now: datetime) -> list[Signal]:
    """One signal per series. An item carrying ``firing`` (what :mod:`collector.predict` sends, with
    duration and rate limit already applied) says so itself; otherwise it fires when its ``score``
    reaches ``min_likelihood`` and its ``duration_s`` ``min_duration``, and clears when either falls short."""
    out: list[Signal] = []
    for raw in items:
        item = as_dict(raw)
        score = float(item.get("score") or 0.0)
        if not math.isfinite(score):
            continue
        lasted = float(item.get("duration_s") or 0.0)
        firing = item.get("firing")
        if firing is None:
            firing = score >= policy.min_likelihood and lasted >= policy.min_duration
        series = str(item.get("series") or item.get("name") or "")
        labels = dict(item.get("labels") or {})
        subject = labels_subject(labels)
        host = item.get("host_id")
        what = _display(item, series) + (f" {subject}" if subject else "")
        where = item.get("hostname") or host
        unit = str(item.get("unit") or "")
        observed, low, high = item.get("observed", item.get("value")), item.get("band_low"), item.get("band_high")
        seen = _quantity(observed, unit)
        expected = (f"expected {_quantity(low, '')}–{_quantity(high, unit)}"
                    if isinstance(low, int | float) and isinstance(high, int | float) else "")
        title = f"Unusual {what} on {where}: {seen}" + (f" ({expected})" if expected else "")
        description = (f"{what} on {where}: " + (f"{expected}, " if expected else "")
                       + f"observed {seen}" + (f" for {duration(lasted)}" if lasted > 0 else "")
                       + (", still going on" if item.get("ongoing") else "")
                       + f" (anomaly likelihood {score:.2f}).")
        if not firing:
            title, description = f"{what} on {where} back within its usual range", ""
        details = {k: item.get(k) for k in ("score", "observed", "peak", "expected", "band_low", "band_high",
                                            "start", "duration_s", "ongoing", "unit")}
        out.append(Signal(
            source=Source.ANOMALY, check_id=f"anomaly.{series}", subject=subject, firing=bool(firing),
            observed_at=_time(item.get("detected_at", item.get("ts")), now), host_id=host,
            customer_id=item.get("customer_id"), severity=policy.severity, title=title, description=description,
            details={**details, "series": series, "labels": labels},
        ))
    return out


def _display(item: Mapping[str, Any], series: str) -> str:
    """The series' display name (English / Chinese where both are known), never its id if it has one."""
    name = item.get("display")
    if isinstance(name, Mapping):
        en, zh = name.get("en"), name.get("zh")
        return f"{en} / {zh}" if en and zh else str(en or zh or series)
    return str(name or series)


def _quantity(value: Any, unit: str) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "?"
    magnitude = abs(float(value))
    text = f"{value:.0f}" if magnitude >= 10 else f"{value:.1f}" if magnitude >= 1 else f"{value:.2f}"
    return f"{text} {unit}" if unit else text
