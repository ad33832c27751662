"""HTTP API for log events: a host's events and per-rule counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from collector.api_deps import Viewer, resolve_host
from collector.params import parse_time
from collector.store.read import from_ms
from collector.store.schema import events

router = APIRouter()


def _host(request: Request, ref: str) -> tuple[Any, dict[str, Any]]:
    app = request.app.state.collector
    with app.engine.connect() as conn:
        return app, resolve_host(conn, ref)


@router.get("/api/v1/hosts/{host}/events")
def host_events(host: str, request: Request, _: Viewer, rule: str | None = None, since: str = "1d",
                until: str | None = None, limit: int = 200) -> dict[str, Any]:
    app, row = _host(request, host)
    now = datetime.fromtimestamp(app.clock(), tz=UTC)
    lo = int(parse_time(since, now, name="since").timestamp() * 1000)
    hi = int(parse_time(until, now, default=now, name="until").timestamp() * 1000)
    q = (select(events).where(events.c.host_id == row["id"], events.c.ts_ms >= lo, events.c.ts_ms <= hi)
         .order_by(events.c.ts_ms.desc(), events.c.id.desc()).limit(max(1, min(limit, 10_000))))
    if rule:
        q = q.where(events.c.rule == rule)
    with app.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return {"host": row["id"], "hostname": row["hostname"], "events": [
        {"ts": from_ms(r["ts_ms"]), "rule": r["rule"], "severity": r["severity"], "source": r["source"],
         "line": r["line"], "fields": r["fields"], "suppressed_before": r["suppressed_before"]} for r in rows]}


@router.get("/api/v1/hosts/{host}/events/counts")
def host_event_counts(host: str, request: Request, _: Viewer, since: str = "1d",
                      until: str | None = None) -> dict[str, Any]:
    """Events per rule; rate-limited (suppressed) events are counted too."""
    app, row = _host(request, host)
    now = datetime.fromtimestamp(app.clock(), tz=UTC)
    lo = int(parse_time(since, now, name="since").timestamp() * 1000)
    hi = int(parse_time(until, now, default=now, name="until").timestamp() * 1000)
    q = (select(events.c.rule, events.c.severity, func.count(), func.sum(events.c.suppressed_before))
         .where(events.c.host_id == row["id"], events.c.ts_ms >= lo, events.c.ts_ms <= hi)
         .group_by(events.c.rule, events.c.severity).order_by(func.count().desc()))
    with app.engine.connect() as conn:
        counts = [{"rule": r, "severity": sev, "events": int(n), "suppressed": int(sup or 0),
                   "total": int(n) + int(sup or 0)} for r, sev, n, sup in conn.execute(q)]
    return {"host": row["id"], "hostname": row["hostname"], "counts": counts}
