"""Reading and writing the per-target state rows (:data:`collector.ssh.tables.ssh_targets`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from collector.ssh.tables import ssh_targets
from collector.store.read import from_ms
from collector.store.rollup import _insert

OK = "ok"


@dataclass(frozen=True)
class TargetStatus:
    host_id: str
    customer_id: str
    endpoint: str
    state: str
    first_attempt_ms: int
    last_attempt_ms: int
    state_since_ms: int
    collector_id: str
    last_error: str | None = None
    last_ok_ms: int | None = None
    consecutive_failures: int = 0
    host_key: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        return self.state == OK

    def after(self, *, state: str, at_ms: int, error: str | None = None, host_key: str | None = None,
              problems: list[str] | None = None, endpoint: str | None = None) -> TargetStatus:
        """The status after one more attempt at ``at_ms``."""
        ok = state == OK
        return replace(
            self,
            endpoint=endpoint or self.endpoint,
            state=state,
            last_attempt_ms=at_ms,
            state_since_ms=self.state_since_ms if state == self.state else at_ms,
            last_error=None if ok else error,
            last_ok_ms=at_ms if ok else self.last_ok_ms,
            consecutive_failures=0 if ok else self.consecutive_failures + 1,
            host_key=host_key or self.host_key,
            problems=list(problems or []) if ok else self.problems,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, times as ISO 8601 UTC."""
        d = asdict(self)
        for key in ("first_attempt_ms", "last_attempt_ms", "state_since_ms", "last_ok_ms"):
            value = d.pop(key)
            dt: datetime | None = from_ms(value)
            d[key.removesuffix("_ms")] = dt.isoformat() if dt else None
        return d


def first_status(host_id: str, customer_id: str, endpoint: str, collector_id: str, at_ms: int) -> TargetStatus:
    return TargetStatus(host_id=host_id, customer_id=customer_id, endpoint=endpoint, state="error",
                        first_attempt_ms=at_ms, last_attempt_ms=at_ms, state_since_ms=at_ms,
                        collector_id=collector_id, last_error="not polled yet")


def load_statuses(conn: Connection, host_ids: list[str] | None = None) -> dict[str, TargetStatus]:
    q = select(ssh_targets)
    if host_ids is not None:
        q = q.where(ssh_targets.c.host_id.in_(host_ids))
    result: dict[str, TargetStatus] = {}
    for r in conn.execute(q).mappings():
        result[r["host_id"]] = TargetStatus(
            host_id=r["host_id"], customer_id=r["customer_id"], endpoint=r["endpoint"], state=r["state"],
            first_attempt_ms=r["first_attempt_ms"], last_attempt_ms=r["last_attempt_ms"],
            state_since_ms=r["state_since_ms"], collector_id=r["collector_id"], last_error=r["last_error"],
            last_ok_ms=r["last_ok_ms"], consecutive_failures=r["consecutive_failures"], host_key=r["host_key"],
            problems=list(r["problems"] or []))
    return result


def save_status(engine: Engine, status: TargetStatus) -> None:
    row = asdict(status)
    with engine.begin() as conn:
        ins = _insert(conn, ssh_targets)
        conn.execute(ins.on_conflict_do_update(
            index_elements=[ssh_targets.c.host_id],
            set_={k: ins.excluded[k] for k in row if k != "host_id"}), [row])
