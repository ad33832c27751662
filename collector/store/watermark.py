"""Each collector's rollup watermarks: the last ``ingest_log`` id of its own that is in the rollups.

A collector folds its durable batches into the rollup tables and moves its watermarks in the same
transaction. The *fine* watermark covers the 1-minute tier; the *coarse* one the hourly tier and the
latest values, which are flushed less often, so it may lag behind the fine one (never pass it). A
refold after a crash starts past the coarse watermark and puts the batches up to the fine one into
the coarse tier only.

A move is conditional on the value it read, so two parties can never fold the same batches: when
the leader of a collector group folds the leftovers of a member that died
(:mod:`collector.cluster.takeover`) and that member comes back, whichever commits second finds the
watermark moved, rolls back and refolds from the new value.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select, update

from collector.store.schema import store_meta


class WatermarkMoved(RuntimeError):
    """Another party folded this collector's batches since the watermark was read."""


class Watermarks(NamedTuple):
    fine: int  # the 1-minute tier holds this collector's batches up to here
    coarse: int  # the hourly tier and the latest values hold them up to here (<= fine)


def key(collector_id: str, coarse: bool = False) -> str:
    return f"rollup_watermark{'_coarse' if coarse else ''}:{collector_id}"


def _stored(conn: Connection, collector_id: str, coarse: bool) -> int | None:
    v = conn.execute(select(store_meta.c.value).where(store_meta.c.key == key(collector_id, coarse)))
    text = v.scalar_one_or_none()
    return int(text) if text else None


def read(conn: Connection, collector_id: str) -> Watermarks:
    """Both watermarks; a store written before the coarse one existed flushed every tier at once, so
    there the coarse watermark is the fine one."""
    fine = _stored(conn, collector_id, False) or 0
    coarse = _stored(conn, collector_id, True)
    return Watermarks(fine, min(fine, fine if coarse is None else coarse))


def advance(conn: Connection, collector_id: str, expected: Watermarks, new: Watermarks) -> None:
    """Move the watermarks from ``expected`` to ``new``; raises :class:`WatermarkMoved` if either is elsewhere."""
    if new.coarse > new.fine:
        raise ValueError(f"the coarse watermark {new.coarse} would pass the fine one {new.fine}")
    if _stored(conn, collector_id, True) is None:
        # Not stored yet: it stands where the fine one stands (see :func:`read`); it is stored from
        # now on. A concurrent insert fails on the primary key.
        if expected.coarse != (_stored(conn, collector_id, False) or 0):
            raise WatermarkMoved(f"the rollup watermarks of {collector_id} are no longer {tuple(expected)}")
        conn.execute(store_meta.insert().values(key=key(collector_id, True), value=str(expected.coarse)))
    for coarse, old, value in ((True, expected.coarse, new.coarse), (False, expected.fine, new.fine)):
        if old != value:
            _move(conn, collector_id, coarse, old, value)


def _move(conn: Connection, collector_id: str, coarse: bool, expected: int, new: int) -> None:
    k = key(collector_id, coarse)
    res = conn.execute(update(store_meta).where(store_meta.c.key == k, store_meta.c.value == str(expected))
                       .values(value=str(new)))
    if res.rowcount == 1:
        return
    if not coarse and expected == 0 and _stored(conn, collector_id, False) is None:
        # The first fine watermark: the key is new (a concurrent insert fails on the primary key).
        conn.execute(store_meta.insert().values(key=k, value=str(new)))
        return
    raise WatermarkMoved(f"the rollup watermark of {collector_id} is no longer {expected}")
