"""What the group's leader does for members that died: their leftovers must not wait for a restart.

A collector killed with batches that were durable but not yet folded into the rollups would fold
them itself when it comes back under the same id. A member that does not come back (a node that was
scaled away) would leave them out of every chart and inspection. The leader therefore folds every
dead member's batches past that member's watermark, moving the watermark conditionally in the same
transaction (:mod:`collector.store.watermark`), and marks the hosts whose streams it held as
disconnected, at every heartbeat. Raw retention of dead members' batches (which only their own
collector does otherwise) is the leader's periodic job ``retention-of-gone-members``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, select, update

from collector.cluster.membership import dead_members, store_now_ms
from collector.ingest import expire_raw
from collector.store import watermark
from collector.store.bulk import raise_column
from collector.store.rollup import RollupAggregator
from collector.store.samples import logged_samples
from collector.store.schema import hosts, ingest_log

log = logging.getLogger("patrol.cluster")

BATCHES_PER_TRANSACTION = 2000


def fold_leftovers(engine: Engine, collector_id: str, retention_s: dict[str, float], now_s: float) -> int:
    """Fold a collector's unfolded batches into the rollups; returns how many batches."""
    total = 0
    while True:
        with engine.begin() as conn:
            wm = watermark.read(conn, collector_id)
            rows = conn.execute(
                select(ingest_log.c.id, ingest_log.c.host_id, ingest_log.c.payload)
                .where(ingest_log.c.collector_id == collector_id, ingest_log.c.id > wm.coarse)
                .order_by(ingest_log.c.id).limit(BATCHES_PER_TRANSACTION)
            ).all()
            if not rows:
                return total
            agg = RollupAggregator(retention_s)
            for row in rows:
                agg.fold(row.host_id, logged_samples(row.payload), now_s, fine=row.id > wm.fine)
            agg.flush(conn)
            raise_column(conn, "hosts", "last_data_ms", "id", dict(agg.last_data_ms))
            last = rows[-1].id
            watermark.advance(conn, collector_id, wm, watermark.Watermarks(max(wm.fine, last), last))
        total += len(rows)


class Takeover:
    """Run on the leader at every heartbeat (see :attr:`Cluster.on_leader_beat`)."""

    def __init__(self, engine: Engine, retention_s: dict[str, float], clock: Callable[[], float]) -> None:
        self.engine = engine
        self.retention_s = retention_s
        self.clock = clock

    def __call__(self, dead: list[str]) -> None:
        if not dead:
            return
        with self.engine.begin() as conn:
            res = conn.execute(update(hosts).where(hosts.c.connected.is_(True), hosts.c.connected_to.in_(dead))
                               .values(connected=False, connected_to=None))
            if res.rowcount:
                log.info("event=streams_of_dead_members_closed hosts=%d members=%s", res.rowcount, ",".join(dead))
        for member in dead:
            try:
                n = fold_leftovers(self.engine, member, self.retention_s, self.clock())
            except watermark.WatermarkMoved:
                log.info("event=takeover_yielded member=%s (it came back and folded its own batches)", member)
                continue
            if n:
                log.warning("event=leftovers_folded member=%s batches=%d", member, n)


def expire_gone_members(engine: Engine, collector_id: str, ttl_ms: int, retention_s: dict[str, float],
                        now_s: float) -> list[str]:
    """Raw retention for the batches of members that are gone; returns their ids."""
    with engine.connect() as conn:
        gone = [m for m in dead_members(conn, ttl_ms, store_now_ms(conn)) if m != collector_id]
    for member in gone:
        with engine.begin() as conn:
            expire_raw(conn, member, watermark.read(conn, member).coarse, int((now_s - retention_s["raw"]) * 1000))
    return gone
