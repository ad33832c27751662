"""The packed form of a block of hourly buckets, and the rollup merge rules on columns.

A block holds one series' buckets of :data:`BLOCK_S` seconds (three days, aligned to the Unix
epoch) in bucket order, each bucket a 41-byte little-endian record: its offset from the block start
in bucket widths (uint8), count (int32), the time of its last value in ms after the bucket start
(int32), then min, max, sum and last (float64). The values stay exact; a query's blocks are joined
and read with one ``np.frombuffer``, so no Python runs per bucket. Three days of hourly records
(2,952 bytes) fit in a SQLite table page without overflow pages, and a monthly read costs about
eleven rows per series.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK_S = 3 * 86400
RECORD = np.dtype([("offset", "u1"), ("count", "<i4"), ("last_ms", "<i4"), ("min", "<f8"), ("max", "<f8"),
                   ("sum", "<f8"), ("last", "<f8")])

# Columns of a bucket table as read and merged here (float64, one row per bucket).
SERIES, BUCKET, MIN, MAX, SUM, COUNT, LAST, LAST_TS = range(8)
WIDTH = 8


def block_of(bucket: int) -> int:
    return bucket - bucket % BLOCK_S


def pack(table: np.ndarray, block: int, width_s: int) -> bytes:
    """The packed form of the buckets of one series in one block (rows of ``table``, in bucket order)."""
    offsets = (table[:, BUCKET] - block) // width_s
    last_ms = table[:, LAST_TS] - table[:, BUCKET] * 1000
    if offsets.min() < 0 or offsets.max() > 255 or last_ms.min() < 0 or last_ms.max() >= width_s * 1000:
        raise ValueError(f"buckets outside the block at {block} or last times outside their buckets")
    records = np.empty(len(table), dtype=RECORD)
    records["offset"] = offsets
    records["count"] = table[:, COUNT]
    records["last_ms"] = last_ms
    for name, column in (("min", MIN), ("max", MAX), ("sum", SUM), ("last", LAST)):
        records[name] = table[:, column]
    return records.tobytes()


def unpack(blobs: Sequence[bytes], series_ids: Sequence[int] | np.ndarray, blocks: Sequence[int] | np.ndarray,
           width_s: int) -> np.ndarray:
    """The buckets of many packed blocks as one n × 8 table in the order of the blocks, column-major,
    so each column is one contiguous array."""
    if not blobs:
        return np.zeros((0, WIDTH), order="F")
    records = np.frombuffer(b"".join(blobs), dtype=RECORD)
    per_blob = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs)) // RECORD.itemsize
    table = np.empty((len(records), WIDTH), order="F")
    table[:, SERIES] = np.repeat(np.asarray(series_ids, dtype=np.float64), per_blob)
    table[:, BUCKET] = np.repeat(np.asarray(blocks, dtype=np.float64), per_blob) + records["offset"] * float(width_s)
    table[:, COUNT] = records["count"]
    for name, column in (("min", MIN), ("max", MAX), ("sum", SUM), ("last", LAST)):
        table[:, column] = records[name]
    table[:, LAST_TS] = table[:, BUCKET] * 1000 + records["last_ms"]
    return table


def merge_duplicates(table: np.ndarray) -> np.ndarray:
    """``table`` (n × 8) sorted by series and bucket, rows of one (series, bucket) merged into one:
    min of minima, max of maxima, sums and counts added, the last value of the latest write
    (the same rules as the writer's upsert, so a bucket split over a packed block and a late live
    row reads as if it had been written whole). Of equal times the later row wins."""
    if len(table) == 0:
        return table
    table = table[np.lexsort((table[:, LAST_TS], table[:, BUCKET], table[:, SERIES]))]
    same = (np.diff(table[:, SERIES]) == 0) & (np.diff(table[:, BUCKET]) == 0)
    if not same.any():
        return table
    firsts = np.concatenate(([0], np.flatnonzero(~same) + 1))
    lasts = np.concatenate((firsts[1:], [len(table)])) - 1
    out = table[lasts].copy()  # series, bucket, last and last_ts of the latest write
    out[:, MIN] = np.minimum.reduceat(table[:, MIN], firsts)
    out[:, MAX] = np.maximum.reduceat(table[:, MAX], firsts)
    out[:, SUM] = np.add.reduceat(table[:, SUM], firsts)
    out[:, COUNT] = np.add.reduceat(table[:, COUNT], firsts)
    return out


def merge_sorted(packed: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Packed buckets (sorted by series and bucket) and live rows (any order) as one sorted table,
    late live rows merged into the packed buckets of the same hour."""
    if not len(live):
        return packed
    live = live[np.lexsort((live[:, BUCKET], live[:, SERIES]))]
    if not len(packed):
        return merge_duplicates(live)
    packed_keys, live_keys = keys(packed), keys(live)
    at = np.searchsorted(packed_keys, live_keys, side="right")  # after an equal packed bucket
    # Column by column into a table of the packed one's layout: the packed rows are by far the
    # most, and each column is written once.
    live_at = at + np.arange(len(live))
    packed_at = np.ones(len(packed) + len(live), dtype=bool)
    packed_at[live_at] = False
    table = np.empty((len(packed_at), WIDTH), order="F")
    for column in range(WIDTH):
        table[packed_at, column] = packed[:, column]
        table[live_at, column] = live[:, column]
    late = (at > 0) & (packed_keys[np.maximum(at - 1, 0)] == live_keys)
    if late.any() or (np.diff(live_keys) == 0).any():
        return merge_duplicates(table)
    return table


def keys(table: np.ndarray) -> np.ndarray:
    """One sortable int64 per row: series id, then bucket start (below 2^32 until 2106)."""
    return (table[:, SERIES].astype(np.int64) << 32) | table[:, BUCKET].astype(np.int64)
