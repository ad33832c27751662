"""Agents that stopped reporting: one signal per agent host from the hosts table.

A host is offline when nothing (data or heartbeat) arrived for ``offline_after`` (the collector's
setting, the same one ``patrol hosts`` uses). Two exceptions keep this quiet when it should be:

- right after the collector starts, agents are still reconnecting, so no host is judged for
  ``offline_after`` seconds;
- a host silent for longer than ``stale_after`` is taken as decommissioned: no new ticket (an open
  one stays until someone closes it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from collector.store.schema import hosts
from collector.tickets.config import OfflinePolicy
from collector.tickets.messages import duration
from collector.tickets.model import Signal, Source

CHECK_ID = "agent.offline"


class OfflineDetector:
    def __init__(self, engine: Engine, policy: OfflinePolicy, offline_after: float, clock: Callable[[], float],
                 started_at: float | None = None) -> None:
        self.engine = engine
        self.policy = policy
        self.offline_after = offline_after
        self.clock = clock
        self.started_at = clock() if started_at is None else started_at

    def signals(self) -> list[Signal]:
        if not self.policy.enabled:
            return []
        now = self.clock()
        if now - self.started_at < self.offline_after:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(hosts.c.id, hosts.c.customer_id, hosts.c.hostname, hosts.c.last_seen_ms,
                                       hosts.c.connected).where(hosts.c.source == "agent")).all()
        at = datetime.fromtimestamp(now, tz=UTC)
        out = []
        for r in rows:
            silent = now - r.last_seen_ms / 1000
            offline = silent > self.offline_after
            if offline and silent > self.policy.stale_after:
                firing: bool | None = None  # decommissioned: neither open nor clear
            else:
                firing = offline
            last = datetime.fromtimestamp(r.last_seen_ms / 1000, tz=UTC)
            out.append(Signal(
                source=Source.OFFLINE, check_id=CHECK_ID, subject="", firing=firing, observed_at=at, host_id=r.id,
                customer_id=r.customer_id, severity=self.policy.severity,
                title=f"agent on {r.hostname} is offline", title_zh=f"{r.hostname} 代理离线",
                description=(f"No data or heartbeat from the agent on {r.hostname} ({r.id}) since "
                             f"{last.isoformat()} ({duration(silent)} ago); the limit is "
                             f"{duration(self.offline_after)}."),
                details={"last_seen": last.isoformat(), "connected": bool(r.connected), "silent_s": round(silent)},
                count_repeat=False,
            ))
        return out
