"""Compaction of the hourly tier: completed days of live rows packed into blocks of three days.

The ingest writer upserts hourly buckets into ``rollup_1h`` one row per bucket, which keeps its
write path cheap and its guarantees simple (ack after the durable commit, every batch folded once).
Reading a month of a fleet that way costs one row per hour per series, found through an index in a
table where every flush interleaves all series. The compaction job moves each completed UTC day into
its series' block in ``rollup_1h_blocks`` (:mod:`collector.store.read.packed`), so the same read
costs about eleven rows per series, each one contiguous run of bytes.

A day is packed once it ended :data:`COMPACT_AFTER_S` ago. Its live rows are deleted and its block
rewritten in the same transaction, so a reader (one statement over both tables) sees each bucket
once. Late data for a packed day (an agent replaying its spool after an outage) is upserted by the
writer as a live row again; readers merge it into the packed bucket by the rollup rules, and the
next compaction re-packs the block with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from collector.store.read.columnar import bucket_table, chunks, driver_rows
from collector.store.read.packed import BLOCK_S, BUCKET, SERIES, block_of, merge_duplicates, pack, unpack
from collector.store.read.tiers import TIERS, Tier

log = logging.getLogger(__name__)

COMPACT_AFTER_S = 3600.0  # a day is packed an hour after it ended: agents' buffered samples are in by then
COMPACT_EVERY_S = 3600.0  # default interval of the compaction job
SERIES_PER_TRANSACTION = 200  # ≈ 150,000 buckets of a month per transaction: bounded memory and lock time
# Compactions of the collectors sharing a PostgreSQL run one at a time: packing a day is a
# read-modify-write of its row, which two compactors must not interleave.
PG_LOCK_KEY = 0x70617472_6F6C0001
DAY_S = 86400


@dataclass
class Compacted:
    series: int = 0  # series with live rows of completed days
    buckets: int = 0  # live rows moved into blocks
    blocks: int = 0  # blocks written (new or re-packed)


def compacted_tiers() -> list[Tier]:
    return [t for t in TIERS if t.blocks is not None]


def compaction_cutoff(now_s: float) -> int:
    """Buckets before this (a UTC midnight) belong to days that are complete enough to pack."""
    end = int(now_s - COMPACT_AFTER_S)
    return end - end % DAY_S


def compact(engine: Engine, now_s: float, progress: Callable[[Compacted], None] | None = None) -> Compacted:
    """Pack every completed day that still has live rows; one transaction per slice of series."""
    done = Compacted()
    cutoff = compaction_cutoff(now_s)
    for tier in compacted_tiers():
        t = tier.table
        with engine.connect() as conn:
            ids = list(conn.execute(select(t.c.series_id).where(t.c.bucket < cutoff).distinct()).scalars())
        done.series += len(ids)
        for part in chunks(sorted(ids), SERIES_PER_TRANSACTION):
            with engine.begin() as conn:
                buckets, blocks = compact_series(conn, tier, part, cutoff)
            done.buckets += buckets
            done.blocks += blocks
            if progress is not None:
                progress(done)
    if done.buckets:
        log.info("event=compacted series=%d buckets=%d blocks=%d", done.series, done.buckets, done.blocks)
    return done


def compact_series(conn: Connection, tier: Tier, series_ids: Sequence[int], cutoff: int) -> tuple[int, int]:
    """Move the live rows of ``series_ids`` before ``cutoff`` into their blocks, merging with what
    the blocks already hold; return (live rows moved, blocks written)."""
    t, b = tier.table, tier.blocks
    assert b is not None
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    # DELETE … RETURNING: exactly the rows removed are packed, also if the writer upserts meanwhile
    # (PostgreSQL re-reads an updated row before deleting it; a row inserted after stays live).
    result = conn.execute(delete(t).where(t.c.series_id.in_(series_ids), t.c.bucket < cutoff)
                          .returning(t.c.series_id, t.c.bucket, t.c.min, t.c.max, t.c.sum, t.c.count, t.c.last,
                                     t.c.last_ts_ms))
    moved = driver_rows(result)
    if not moved:
        return 0, 0
    live = bucket_table(moved)
    touched = sorted({block_of(int(bucket)) for bucket in np.unique(live[:, BUCKET])})
    query = select(b.c.series_id, b.c.block, b.c.data).where(b.c.series_id.in_(series_ids), b.c.block.in_(touched))
    if postgres:
        query = query.with_for_update()
    packed = conn.execute(query).all()
    old = unpack([r[2] for r in packed], [r[0] for r in packed], [r[1] for r in packed], tier.width_s)
    # Packed first: on equal times the live row (written later) wins, as in the writer's upsert.
    table = merge_duplicates(np.concatenate((old, live)))
    blocks = table[:, BUCKET] - table[:, BUCKET] % BLOCK_S
    cuts = np.flatnonzero((np.diff(table[:, SERIES]) != 0) | (np.diff(blocks) != 0)) + 1
    rows = []
    for group in np.split(table, cuts):
        start = block_of(int(group[0, BUCKET]))
        rows.append({"series_id": int(group[0, SERIES]), "block": start, "buckets": len(group),
                     "data": pack(group, start, tier.width_s)})
    insert = (postgresql.insert if postgres else sqlite.insert)(b)
    conn.execute(insert.on_conflict_do_update(index_elements=[b.c.series_id, b.c.block],
                                              set_={"buckets": insert.excluded.buckets,
                                                    "data": insert.excluded.data}), rows)
    return len(moved), len(rows)


def expire_blocks(conn: Connection, tier: Tier, floor_s: int) -> int:
    """Delete the blocks of ``tier`` whose every bucket starts before ``floor_s``: retention deletes
    a block whole, once its last hour is past retention."""
    if tier.blocks is None:
        return 0
    b = tier.blocks
    return int(conn.execute(delete(b).where(b.c.block <= floor_s - BLOCK_S)).rowcount or 0)
