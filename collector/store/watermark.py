"""Each collector's rollup watermark: the last ``ingest_log`` id of its own that is in the rollups.

A collector folds its durable batches into the rollup tables and moves its watermark in the same
transaction. The move is conditional on the value it read, so two parties can never fold the same
batches: when the leader of a collector group folds the leftovers of a member that died
(:mod:`collector.cluster.takeover`) and that member comes back, whichever commits second finds the
watermark moved, rolls back and refolds from the new value.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from collector.store.schema import store_meta


class WatermarkMoved(RuntimeError):
    """Another party folded this collector's batches since the watermark was read."""


def key(collector_id: str) -> str:
    return f"rollup_watermark:{collector_id}"


def read(conn: Connection, collector_id: str) -> int:
    v = conn.execute(select(store_meta.c.value).where(store_meta.c.key == key(collector_id))).scalar_one_or_none()
    return int(v) if v else 0


def advance(conn: Connection, collector_id: str, expected: int, new: int) -> None:
    """Move the watermark from ``expected`` to ``new``; raises :class:`WatermarkMoved` if it is elsewhere."""
    res = conn.execute(update(store_meta).where(store_meta.c.key == key(collector_id),
                                                store_meta.c.value == str(expected)).values(value=str(new)))
    if res.rowcount == 1:
        return
    if expected == 0 and read(conn, collector_id) == 0:
        # The first watermark: the key is new (a concurrent insert fails on the primary key).
        conn.execute(store_meta.insert().values(key=key(collector_id), value=str(new)))
        return
    raise WatermarkMoved(f"the rollup watermark of {collector_id} is no longer {expected}")
