"""What the host page and its charts read: facts, latest values, findings history, log events,
tickets, and chart data (a series over a window from the fitting rollup tier, with the stored
capacity forecast and its band).

Series come through :func:`collector.store.queries.series_points` (which picks the rollup tier for
the window and step), forecasts through :func:`collector.predictions.runs.latest`, tickets through
the ticket repository.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.console.i18n import format_number, format_value
from collector.inspection.tables import inspection_findings, inspection_runs
from collector.predictions import runs as forecast_runs
from collector.store import queries
from collector.store.schema import events
from collector.tickets import repository as ticket_repo
from collector.tickets.model import Ticket
from inspections import catalogue
from inspections.signals import CapacityForecast

# The chart asks for about this many points whatever the window; the tier follows from the step.
CHART_POINTS = 600
MIN_WINDOW_S = 600
MAX_WINDOW_S = 400 * 86400
FORECAST_STEPS = 24


@dataclass(frozen=True)
class LatestValue:
    name: str
    labels: dict[str, str]
    subject: str
    title: str
    unit: str
    value: float
    ts_ms: int


def latest_values(conn: Connection, host_id: str, lang: str) -> list[LatestValue]:
    out = []
    for v in queries.latest_values(conn, host_id):
        out.append(LatestValue(v["name"], v["labels"], catalogue.subject_of(v["name"], v["labels"]),
                               catalogue.display_name(v["name"], lang), catalogue.unit_of(v["name"]),
                               float(v["value"]), int(v["ts"].timestamp() * 1000) if v["ts"] else 0))
    return out


# The agent's facts (``patrol.v1.Facts`` as a dict) in the order the host page shows them, each with
# how its value reads. The agent version has a row of its own above the facts.
_FACT_ORDER = ("hostname", "os", "kernel", "arch", "cpu_model", "cpu_count", "cpu_cores", "memory_bytes",
               "swap_bytes", "disks", "interfaces", "boot_time_ms", "python_version")
_SHOWN_ELSEWHERE = frozenset({"agent_version"})


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _disk(d: Mapping[str, Any]) -> str:
    where = " ".join(filter(None, (str(d.get("mount", "")), f"({d['device']})" if d.get("device") else "")))
    size = _number(d.get("total_bytes"))
    return " · ".join(filter(None, (where, str(d.get("fstype", "")),
                                    format_value(size, "bytes") if size else "")))


def _interface(i: Mapping[str, Any], t: Callable[..., str]) -> str:
    speed = _number(i.get("speed_mbps"))
    parts = [str(i.get("name", "")), t("fact.up") if i.get("up") else t("fact.down"),
             f"{format_number(speed, 0)} Mb/s" if speed else "", f"MTU {i['mtu']}" if i.get("mtu") else "",
             ", ".join(map(str, i.get("addresses") or ())), str(i.get("mac", ""))]
    return " · ".join(p for p in parts if p)


def fact_rows(facts: Mapping[str, Any] | None, t: Callable[..., str], fmt_time: Callable[[int], str],
              labels: Mapping[str, str] | None = None) -> list[tuple[str, list[str]]]:
    """A host's facts as (label, lines) rows for people: sizes in KiB…TiB, times in the page's zone,
    disks and network interfaces one line each, the agent's extra facts under their own names (but
    not one that repeats a host label the page already shows), and any fact this version does not
    know under its key, as it came."""
    facts = dict(facts or {})
    rows: list[tuple[str, list[str]]] = []
    for key in _FACT_ORDER:
        if key not in facts:
            continue
        value = facts.pop(key)
        if key in ("memory_bytes", "swap_bytes"):
            lines = [format_value(_number(value), "bytes")]
        elif key == "boot_time_ms" and (ms := _number(value)):
            lines = [fmt_time(int(ms))]
        elif key == "disks" and isinstance(value, list):
            lines = [_disk(d) if isinstance(d, Mapping) else str(d) for d in value]
        elif key == "interfaces" and isinstance(value, list):
            lines = [_interface(i, t) if isinstance(i, Mapping) else str(i) for i in value]
        else:
            lines = fact_lines(value)
        rows.append((t(f"fact.{key}"), lines or [""]))
    extra = facts.pop("extra", None)
    if isinstance(extra, Mapping):
        shown = labels or {}
        rows += [(str(k), fact_lines(v)) for k, v in sorted(extra.items()) if shown.get(k) != v]
    rows += [(k, fact_lines(v)) for k, v in facts.items() if k not in _SHOWN_ELSEWHERE]
    return rows


def fact_lines(value: Any) -> list[str]:
    """A host fact as lines of text: one per item of a list, mappings as ``key value`` pairs."""
    def one(item: Any) -> str:
        if isinstance(item, Mapping):
            return "  ".join(f"{k} {one(v)}" for k, v in item.items())
        if isinstance(item, list | tuple):
            return ", ".join(one(v) for v in item)
        return str(item)

    if isinstance(value, list | tuple):
        return [one(v) for v in value] or [""]
    return [one(value)]


def findings_history(conn: Connection, host_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Findings other than ok of the host's inspections, newest run first."""
    q = (select(inspection_findings, inspection_runs.c.finished_ms, inspection_runs.c.profile)
         .join(inspection_runs, inspection_runs.c.id == inspection_findings.c.run_id)
         .where(inspection_findings.c.host_id == host_id, inspection_findings.c.status != "ok")
         .order_by(inspection_findings.c.run_id.desc(), inspection_findings.c.id).limit(limit))
    return [dict(r) for r in conn.execute(q).mappings()]


def log_events(conn: Connection, host_id: str, limit: int = 100) -> list[dict[str, Any]]:
    q = (select(events).where(events.c.host_id == host_id).order_by(events.c.ts_ms.desc(), events.c.id.desc())
         .limit(limit))
    return [dict(r) for r in conn.execute(q).mappings()]


def host_tickets(conn: Connection, host_id: str, limit: int = 50) -> list[Ticket]:
    return ticket_repo.list_tickets(conn, host=host_id, limit=limit)


def chart_metrics(values: list[LatestValue]) -> list[tuple[str, str]]:
    """(series name, display name) of every series the host has, catalogue order by name."""
    seen: dict[str, str] = {}
    for v in values:
        seen.setdefault(v.name, v.title)
    return sorted(seen.items())


def _forecast_lines(f: CapacityForecast, until_s: float) -> dict[str, list[tuple[float, float]]] | None:
    """The forecast's trend and band as (time, value) points from its ``now`` to the crossing (or the
    window's end), or None when it has no trend."""
    r = f.result
    if r.level is None or r.slope is None:
        return None
    end = max(until_s, r.eta_high or r.eta or 0.0, r.now + (r.horizon_s or 0.0) * 0.25)
    end = min(end, r.now + 400 * 86400)
    if end <= r.now:
        return None
    times = [r.now + (end - r.now) * i / FORECAST_STEPS for i in range(FORECAST_STEPS + 1)]

    def line(slope: float | None) -> list[tuple[float, float]]:
        s = r.slope if slope is None else slope
        return [(t, float(r.level) + float(s) * (t - r.now)) for t in times]  # type: ignore[arg-type]

    return {"trend": line(None), "low": line(r.slope_low), "high": line(r.slope_high)}


def chart_data(conn: Connection, host_id: str, metric: str, since_s: float, until_s: float, now_s: float,
               retention_s: Mapping[str, float], lang: str) -> dict[str, Any]:
    """A window of every series ``metric`` of the host, aligned for uPlot: ``x`` (unix seconds) and one
    ``y`` per series (avg per step, None where no sample), plus for capacity series the stored
    forecast's trend, band and limit."""
    window = min(max(until_s - since_s, MIN_WINDOW_S), MAX_WINDOW_S)
    since_s = until_s - window
    step = max(60.0, window / CHART_POINTS)
    found = queries.series_points(conn, host_id, metric, since_s, until_s, step, now_s, dict(retention_s))
    per_series: list[tuple[str, dict[float, float | None]]] = []
    tier, step_s = "", step
    for s in found:
        tier, step_s = s["tier"], s["step_s"]
        per_series.append((catalogue.subject_of(metric, s["labels"]),
                           {p["ts"].timestamp(): p["avg"] for p in s["points"]}))
    m = catalogue.metric(metric)
    forecasts: list[dict[str, Any]] = []
    if m is not None and m.kind == "capacity":
        for f in forecast_runs.latest(conn, "capacity", host_ids=[host_id]):
            if isinstance(f, CapacityForecast) and f.series == metric:
                lines = _forecast_lines(f, until_s)
                if lines is not None and f.result.now >= since_s - window:
                    forecasts.append({"subject": catalogue.subject_of(metric, f.labels), "lines": lines,
                                      "limit": f.result.limit, "eta": f.result.eta, "eta_low": f.result.eta_low,
                                      "eta_high": f.result.eta_high, "computed_at": f.computed_at.timestamp()})
    xs = sorted({t for _, pts in per_series for t in pts}
                | {t for fc in forecasts for key in ("trend", "low", "high") for t, _ in fc["lines"][key]})
    series: list[dict[str, Any]] = []
    for subject, pts in per_series:
        series.append({"label": subject or catalogue.display_name(metric, lang), "kind": "value",
                       "values": [pts.get(x) for x in xs]})
    for fc in forecasts:
        for key in ("trend", "low", "high"):
            pts = dict(fc["lines"][key])
            series.append({"label": f"{fc['subject']} {key}".strip(), "kind": f"forecast-{key}",
                           "values": [pts.get(x) for x in xs]})
    return {"metric": metric, "title": catalogue.display_name(metric, lang), "unit": catalogue.unit_of(metric),
            "since": since_s, "until": until_s, "tier": tier, "step_s": step_s, "x": xs, "series": series,
            "forecasts": [{k: v for k, v in fc.items() if k != "lines"} for fc in forecasts],
            "now": now_s, "generated_at": datetime.now(UTC).isoformat()}
