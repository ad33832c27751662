"""Read-side queries over the state store: hosts, latest values and rollup series."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from collector.store.read import align, decode_labels, find_series, from_ms, from_seconds, pick_tier, read_series
from collector.store.schema import customers, hosts, latest, series

KEY_METRICS = ("cpu.busy_percent", "mem.used_percent", "load.load1_per_core", "disk.used_percent")


@dataclass
class HostRow:
    id: str
    customer_id: str
    hostname: str
    source: str
    status: str
    connected: bool
    first_seen: datetime | None
    last_seen: datetime | None
    last_data: datetime | None
    agent_version: str
    labels: dict[str, str]
    key_values: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        for k in ("first_seen", "last_seen", "last_data"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def host_status(connected: bool, last_seen_ms: int, now_s: float, offline_after_s: float) -> str:
    if connected and now_s - last_seen_ms / 1000 <= offline_after_s:
        return "online"
    return "offline"


def list_customers(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(customers).order_by(customers.c.id)).mappings().all()
    return [dict(r) for r in rows]


def list_hosts(conn: Connection, now_s: float, offline_after_s: float,
               customer: str | None = None) -> list[HostRow]:
    q = select(hosts).order_by(hosts.c.customer_id, hosts.c.hostname)
    if customer:
        q = q.where(hosts.c.customer_id == customer)
    host_rows = conn.execute(q).mappings().all()
    key_values: dict[str, dict[str, float]] = {}
    kv = conn.execute(
        select(series.c.host_id, series.c.name, func.max(latest.c.value))
        .join(latest, latest.c.series_id == series.c.id)
        .where(series.c.name.in_(KEY_METRICS))
        .group_by(series.c.host_id, series.c.name)
    ).all()
    for host_id, name, value in kv:
        key_values.setdefault(host_id, {})[name] = value
    return [
        HostRow(id=r["id"], customer_id=r["customer_id"], hostname=r["hostname"], source=r["source"],
                status=host_status(r["connected"], r["last_seen_ms"], now_s, offline_after_s),
                connected=bool(r["connected"]), first_seen=from_ms(r["first_seen_ms"]),
                last_seen=from_ms(r["last_seen_ms"]), last_data=from_ms(r["last_data_ms"]),
                agent_version=r["agent_version"], labels=r["labels"] or {},
                key_values=key_values.get(r["id"], {}))
        for r in host_rows
    ]


def get_host(conn: Connection, host_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(hosts).where(hosts.c.id == host_id)).mappings().first()
    return dict(row) if row else None


class AmbiguousHost(LookupError):
    """A hostname that several hosts share (two agents on one machine, or one name at two customers)."""

    def __init__(self, name: str, candidates: list[dict[str, Any]]) -> None:
        self.name = name
        self.candidates = candidates
        listed = "; ".join(f"agent id {c['id']} (customer {c['customer_id']})" for c in candidates)
        super().__init__(f"host name {name!r} is ambiguous, {len(candidates)} hosts have it: {listed}. "
                         "Give the agent id instead.")


def find_host(conn: Connection, ref: str) -> dict[str, Any] | None:
    """A host by id, else by hostname; None when neither matches, :class:`AmbiguousHost` when the
    name belongs to several hosts."""
    row = get_host(conn, ref)
    if row:
        return row
    rows = conn.execute(select(hosts).where(hosts.c.hostname == ref).order_by(hosts.c.customer_id, hosts.c.id)
                        ).mappings().all()
    if len(rows) > 1:
        raise AmbiguousHost(ref, [{"id": r["id"], "customer_id": r["customer_id"]} for r in rows])
    return dict(rows[0]) if rows else None


def hostnames(conn: Connection, host_ids: Iterable[str | None]) -> dict[str, str]:
    """Hostname by host id, for the ids given (unknown ids are left out)."""
    wanted = sorted({h for h in host_ids if h})
    if not wanted:
        return {}
    return {r.id: r.hostname for r in conn.execute(select(hosts.c.id, hosts.c.hostname)
                                                   .where(hosts.c.id.in_(wanted)))}


def latest_values(conn: Connection, host_id: str, prefix: str | None = None) -> list[dict[str, Any]]:
    q = (select(series.c.name, series.c.labels, latest.c.ts_ms, latest.c.value)
         .join(latest, latest.c.series_id == series.c.id)
         .where(series.c.host_id == host_id)
         .order_by(series.c.name, series.c.labels))
    if prefix:
        q = q.where(series.c.name.startswith(prefix))
    return [{"name": r.name, "labels": decode_labels(r.labels), "ts": from_ms(r.ts_ms), "value": r.value}
            for r in conn.execute(q)]


def series_points(conn: Connection, host_id: str, name: str, since_s: float, until_s: float, step_s: float,
                  now_s: float, retention_s: dict[str, float],
                  labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every series ``name`` of a host (those carrying ``labels``, if given) aggregated into
    ``step``-wide points from the fitting rollup tier."""
    tier = pick_tier(since_s, step_s, now_s, retention_s)
    step = max(int(step_s), tier.width_s)
    refs = [r for r in find_series(conn, [host_id], [name])
            if not labels or all(r.labels.get(k) == v for k, v in labels.items())]
    out: list[dict[str, Any]] = []
    for ref, data in read_series(conn, tier, refs, align(since_s, tier.width_s), until_s):
        merged = data.rebucket(step)
        avg = merged.avg
        points = [{"min": float(merged.min[i]), "max": float(merged.max[i]), "count": int(merged.count[i]),
                   "last": float(merged.last[i]), "ts": from_seconds(merged.ts[i]),
                   "avg": float(avg[i]) if merged.count[i] else None}
                  for i in range(len(merged))]
        out.append({"name": name, "labels": ref.labels, "tier": tier.name, "step_s": step, "points": points})
    return out
