"""Writing and reading the collector's diagnostics audit log (:data:`collector.diagnostics.tables.audit_log`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from collector.diagnostics.tables import audit_log

REQUEST_EVENTS = ("diag.request", "diag.unsolicited")
MAX_DETAIL = 2000


class AuditStore:
    def __init__(self, engine: Engine, collector_id: str, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.collector_id = collector_id
        self.clock = clock

    def record(self, event: str, *, actor: str, request_id: str | None = None, host_id: str | None = None,
               action: str | None = None, args: Mapping[str, str] | None = None, outcome: str | None = None,
               nbytes: int | None = None, detail: str | None = None, via: str | None = None) -> None:
        """Insert one row (blocking: call from a thread when on the event loop)."""
        with self.engine.begin() as conn:
            conn.execute(insert(audit_log).values(
                at_ms=int(self.clock() * 1000), event=event, request_id=request_id, actor=actor, host_id=host_id,
                action=action, args=dict(args or {}), outcome=outcome, bytes=nbytes,
                detail=(detail or None) and detail[:MAX_DETAIL], via=via, collector_id=self.collector_id))


def audit_events(conn: Connection, *, host: str | None = None, since_ms: int | None = None,
                 until_ms: int | None = None, actor: str | None = None, request_id: str | None = None,
                 limit: int = 200) -> list[dict[str, Any]]:
    """Raw rows, newest first."""
    q = select(audit_log).order_by(audit_log.c.at_ms.desc(), audit_log.c.id.desc()).limit(limit)
    if host:
        q = q.where(audit_log.c.host_id == host)
    if since_ms is not None:
        q = q.where(audit_log.c.at_ms >= since_ms)
    if until_ms is not None:
        q = q.where(audit_log.c.at_ms <= until_ms)
    if actor:
        q = q.where(audit_log.c.actor == actor)
    if request_id:
        q = q.where(audit_log.c.request_id == request_id)
    return [dict(r) for r in conn.execute(q).mappings()]


def audit_requests(conn: Connection, *, host: str | None = None, since_ms: int | None = None,
                   until_ms: int | None = None, actor: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """One summary per request (who, host, action, args, when, outcome, bytes), newest first."""
    q = (select(audit_log).where(audit_log.c.event.in_(REQUEST_EVENTS))
         .order_by(audit_log.c.at_ms.desc(), audit_log.c.id.desc()).limit(limit))
    if host:
        q = q.where(audit_log.c.host_id == host)
    if since_ms is not None:
        q = q.where(audit_log.c.at_ms >= since_ms)
    if until_ms is not None:
        q = q.where(audit_log.c.at_ms <= until_ms)
    if actor:
        q = q.where(audit_log.c.actor == actor)
    heads = [dict(r) for r in conn.execute(q).mappings()]
    ids = [h["request_id"] for h in heads if h["event"] == "diag.request" and h["request_id"]]
    results: dict[str, dict[str, Any]] = {}
    cancels: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(audit_log).where(audit_log.c.request_id.in_(ids[start:start + 500]),
                                                    audit_log.c.event.in_(("diag.result", "diag.cancel")))
                            .order_by(audit_log.c.id)).mappings()
        for r in rows:
            (results if r["event"] == "diag.result" else cancels).setdefault(r["request_id"], dict(r))
    out = []
    for h in heads:
        res = results.get(h["request_id"]) if h["event"] == "diag.request" else None
        cancel = cancels.get(h["request_id"]) if h["event"] == "diag.request" else None
        out.append({
            "request_id": h["request_id"], "kind": "unsolicited" if h["event"] == "diag.unsolicited" else "request",
            "at_ms": h["at_ms"], "actor": h["actor"], "host_id": h["host_id"], "action": h["action"],
            "args": h["args"], "via": h["via"],
            "outcome": (res or {}).get("outcome") or h["outcome"] or "running",
            "bytes": (res or {}).get("bytes") if res else h["bytes"],
            "detail": res["detail"] if res else h["detail"],
            "finished_ms": res["at_ms"] if res else None,
            "cancelled_by": cancel["actor"] if cancel else None,
            "collector_id": h["collector_id"],
        })
    return out
