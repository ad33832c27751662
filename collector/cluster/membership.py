"""Membership of the collector group and the lease on its scheduled work.

Every collector writes a heartbeat into ``collectors`` and tries to take or renew the ``scheduler``
lease at the same time. Exactly one live collector holds the lease; scheduled work (inspections,
reports, SLA clocks, predictions, agentless SSH polling) runs only there. The lease expires
``lease_ttl`` after its last renewal, so when the holder dies another member takes it over at its
next heartbeat; a holder that stops cleanly releases it at once.

Times come from the store's clock (PostgreSQL's ``clock_timestamp()``), not each machine's own, so
clock skew between collector hosts cannot make two of them believe they hold the lease. On SQLite,
which only one machine can use, the local clock is the store's clock.

A single collector is a group of one: it takes the lease at start and keeps it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any

from sqlalchemy import Connection, Engine, case, select, text, update

from collector.cluster.tables import collectors, leases
from collector.store.rollup import _insert

log = logging.getLogger("patrol.cluster")

SCHEDULER_LEASE = "scheduler"


def store_now_ms(conn: Connection) -> int:
    """Unix ms by the store's clock."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")).scalar_one())
    return int(time.time() * 1000)


@functools.cache
def _version() -> str:
    try:
        return importlib_metadata.version("patrol")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Member:
    id: str
    hostname: str
    pid: int
    listen: str
    api: str
    version: str
    started_ms: int
    heartbeat_ms: int
    sessions: int
    alive: bool
    leader: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def try_lease(conn: Connection, name: str, holder: str, now_ms: int, ttl_ms: int) -> int | None:
    """Take or renew lease ``name`` for ``holder``; its fencing token when held, else None."""
    t = leases.c
    res = conn.execute(
        update(leases)
        .where(t.name == name, (t.holder == holder) | (t.expires_ms < now_ms))
        .values(holder=holder, expires_ms=now_ms + ttl_ms,
                token=case((t.holder == holder, t.token), else_=t.token + 1),
                acquired_ms=case((t.holder == holder, t.acquired_ms), else_=now_ms))
    )
    if res.rowcount == 0:
        ins = _insert(conn, leases).values(name=name, holder=holder, token=1, acquired_ms=now_ms,
                                           expires_ms=now_ms + ttl_ms)
        conn.execute(ins.on_conflict_do_nothing(index_elements=[t.name]))
    row = conn.execute(select(t.holder, t.token, t.expires_ms).where(t.name == name)).one_or_none()
    if row is None or row.holder != holder or row.expires_ms < now_ms:
        return None
    return int(row.token)


def release_lease(conn: Connection, name: str, holder: str) -> bool:
    res = conn.execute(update(leases).where(leases.c.name == name, leases.c.holder == holder)
                       .values(expires_ms=0))
    return bool(res.rowcount)


def members(conn: Connection, ttl_ms: int) -> list[Member]:
    """Every collector that ran on this store, newest heartbeat first."""
    now = store_now_ms(conn)
    lease = conn.execute(select(leases.c.holder, leases.c.expires_ms).where(leases.c.name == SCHEDULER_LEASE)
                         ).one_or_none()
    leader = lease.holder if lease is not None and lease.expires_ms >= now else None
    rows = conn.execute(select(collectors).order_by(collectors.c.heartbeat_ms.desc())).mappings().all()
    return [Member(id=r["id"], hostname=r["hostname"], pid=r["pid"], listen=r["listen"], api=r["api"],
                   version=r["version"], started_ms=r["started_ms"], heartbeat_ms=r["heartbeat_ms"],
                   sessions=r["sessions"], alive=now - r["heartbeat_ms"] <= ttl_ms, leader=r["id"] == leader)
            for r in rows]


def dead_members(conn: Connection, ttl_ms: int, now_ms: int) -> list[str]:
    """Ids of collectors whose heartbeat is older than the TTL."""
    return list(conn.execute(select(collectors.c.id).where(collectors.c.heartbeat_ms < now_ms - ttl_ms)).scalars())


class Cluster:
    """This collector's membership: heartbeats, the scheduler lease, and callbacks on each beat."""

    def __init__(self, engine: Engine, collector_id: str, *, listen: str, api: str, heartbeat_s: float,
                 lease_ttl_s: float, sessions: Any = None) -> None:
        self.engine = engine
        self.collector_id = collector_id
        self.listen = listen
        self.api = api
        self.heartbeat_s = heartbeat_s
        self.ttl_ms = int(lease_ttl_s * 1000)
        self.sessions = sessions if sessions is not None else (lambda: 0)
        self.token: int | None = None  # fencing token of the scheduler lease while held
        self._held_until = 0.0  # monotonic: the lease is not trusted past this without a new beat
        self.started_ms = 0
        # Called in a worker thread after each beat that holds the lease, with the ids of the other
        # members whose heartbeat is older than the TTL.
        self.on_leader_beat: list[Callable[[list[str]], None]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        # A holder that could not renew (store unreachable, process paused) stops acting before the
        # lease can expire for the others.
        return self.token is not None and time.monotonic() < self._held_until

    def beat(self) -> bool:
        """Heartbeat and take or renew the lease; True while this collector holds it."""
        began = time.monotonic()
        with self.engine.begin() as conn:
            now = store_now_ms(conn)
            if not self.started_ms:
                self.started_ms = now
            row = {"id": self.collector_id, "hostname": socket.gethostname(), "pid": os.getpid(),
                   "listen": self.listen, "api": self.api, "version": _version(), "started_ms": self.started_ms,
                   "heartbeat_ms": now, "sessions": int(self.sessions())}
            ins = _insert(conn, collectors).values(**row)
            conn.execute(ins.on_conflict_do_update(index_elements=[collectors.c.id],
                                                   set_={k: ins.excluded[k] for k in row if k != "id"}))
            token = try_lease(conn, SCHEDULER_LEASE, self.collector_id, now, self.ttl_ms)
            dead = [] if token is None else \
                [m for m in dead_members(conn, self.ttl_ms, now) if m != self.collector_id]
        if token != self.token:
            if token is None:
                log.warning("event=lease_lost lease=%s collector=%s", SCHEDULER_LEASE, self.collector_id)
            else:
                log.info("event=lease_acquired lease=%s collector=%s token=%d", SCHEDULER_LEASE,
                         self.collector_id, token)
        self.token = token
        self._held_until = began + self.ttl_ms / 1000 * 0.8
        if token is not None:
            for callback in self.on_leader_beat:
                try:
                    callback(dead)
                except Exception:
                    log.exception("event=leader_task_failed task=%s", getattr(callback, "__name__", callback))
        return token is not None

    def start(self) -> None:
        """First beat before the services start (so a lone collector schedules at once), then a loop."""
        try:
            self.beat()
        except Exception:
            log.exception("event=heartbeat_failed; retrying in %.0f s", self.heartbeat_s)
        self._task = asyncio.create_task(self._loop(), name="patrol-cluster")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await asyncio.to_thread(self.beat)
            except Exception as e:
                # Without a heartbeat the lease must be presumed lost: another member may take it.
                if self.token is not None:
                    log.warning("event=lease_presumed_lost error=%r", e)
                self.token = None
                log.error("event=heartbeat_failed error=%r", e)

    async def stop(self) -> None:
        """Stop beating and hand the lease over at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        held, self.token = self.token, None
        if held is not None:
            try:
                with self.engine.begin() as conn:
                    release_lease(conn, SCHEDULER_LEASE, self.collector_id)
                log.info("event=lease_released lease=%s collector=%s", SCHEDULER_LEASE, self.collector_id)
            except Exception:
                log.exception("event=lease_release_failed (it expires by itself)")

    def members(self) -> list[Member]:
        with self.engine.connect() as conn:
            return members(conn, self.ttl_ms)


def leads(app: Any) -> bool:
    """Whether ``app`` may run the group's scheduled work now (an app without a cluster always may)."""
    cluster = getattr(app, "cluster", None)
    return cluster is None or bool(cluster.is_leader)
