"""Bulk reads of rollups as numpy columns: many hosts × series × one window in a few queries.

Rows come straight from the driver's cursor (SQLAlchemy's Row objects would cost more than the
database does for the millions of buckets of a fleet-wide monthly read): packed blocks of the
compacted hourly tier are joined and read with one ``np.frombuffer``, live rows go into a float64
array, the two are merged into one table per query, split per series where the series id changes,
and stay columns from then on: no Python object per bucket. The same code runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    LargeBinary,
    Select,
    and_,
    cast,
    literal_column,
    null,
    select,
    union_all,
)

from collector.store.read.labels import decode_labels
from collector.store.read.packed import (
    BUCKET,
    COUNT,
    LAST,
    MAX,
    MIN,
    SERIES,
    SUM,
    WIDTH,
    block_of,
    keys,
    merge_duplicates,
    merge_sorted,
    unpack,
)
from collector.store.read.tiers import Tier
from collector.store.read.timeutil import align_array
from collector.store.schema import series

IN_CHUNK = 900  # ids per IN (...) list; well under every database's parameter limit
HOST_CHUNK = 400
ROW_BUDGET = 400_000  # buckets held in memory at once by a reader that walks many series


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """One stored series: its id, host, name and labels (decoded, and as stored)."""

    id: int
    host_id: str
    name: str
    labels: dict[str, str]
    labels_text: str


def find_series(conn: Connection, host_ids: Sequence[str], names: Iterable[str]) -> list[SeriesRef]:
    """Every series of ``names`` of the hosts, ordered by id."""
    wanted = sorted(set(names))
    out: list[SeriesRef] = []
    if not wanted:
        return out
    for part in chunks(list(dict.fromkeys(host_ids)), HOST_CHUNK):
        rows = conn.execute(select(series.c.id, series.c.host_id, series.c.name, series.c.labels)
                            .where(series.c.host_id.in_(part), series.c.name.in_(wanted)))
        out.extend(SeriesRef(sid, host, name, decode_labels(text), text) for sid, host, name, text in rows)
    out.sort(key=lambda ref: ref.id)
    return out


@dataclass(frozen=True, slots=True)
class Rollups:
    """Buckets of one series as columns, sorted by bucket start (unix seconds)."""

    ts: np.ndarray
    min: np.ndarray
    max: np.ndarray
    sum: np.ndarray
    count: np.ndarray
    last: np.ndarray

    @property
    def avg(self) -> np.ndarray:
        """Count-weighted average per bucket; NaN where a bucket holds no sample."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.sum / self.count, np.nan)

    def __len__(self) -> int:
        return len(self.ts)

    def rebucket(self, width: int, offset: int = 0) -> Rollups:
        """Buckets of ``width`` seconds (starting at multiples of it shifted by ``-offset``), each
        merged from the buckets that start inside it: min of minima, max of maxima, sums and counts
        added, the last value of the latest bucket."""
        if not len(self.ts):
            return self
        starts = align_array(self.ts, width, offset)
        firsts = np.concatenate(([0], np.flatnonzero(np.diff(starts)) + 1))
        lasts = np.concatenate((firsts[1:], [len(starts)])) - 1
        return Rollups(starts[firsts], np.minimum.reduceat(self.min, firsts), np.maximum.reduceat(self.max, firsts),
                       np.add.reduceat(self.sum, firsts), np.add.reduceat(self.count, firsts), self.last[lasts])


_EMPTY = np.zeros(0)
NO_BUCKETS = Rollups(_EMPTY, _EMPTY, _EMPTY, _EMPTY, np.zeros(0, dtype=np.int64), _EMPTY)


def _columns(block: np.ndarray) -> Rollups:
    return Rollups(block[:, BUCKET], block[:, MIN], block[:, MAX], block[:, SUM], block[:, COUNT].astype(np.int64),
                   block[:, LAST])


def _window_query(conn: Connection, tier: Tier, ids: Sequence[int], lo: int, hi: int) -> Select[Any]:
    """One statement for the live rows and, if the tier has them, the packed blocks of ``ids`` in
    ``[lo, hi)``. One statement is one snapshot on every backend: a compaction committing between two
    queries could otherwise hide a day (moved after the blocks were read) or show it twice."""
    t = tier.table
    wanted = and_(t.c.series_id.in_(ids), t.c.bucket >= lo, t.c.bucket < hi)
    live = select(t.c.series_id, t.c.bucket, t.c.min, t.c.max, t.c.sum, t.c.count, t.c.last, t.c.last_ts_ms,
                  cast(null(), LargeBinary).label("data"))
    if conn.dialect.name == "sqlite":
        # SQLite keeps live rows in insertion order (flush by flush, all series mixed) and finds a
        # series' buckets through the (series_id, bucket) index. Looking the rows up in rowid order,
        # from the index's list of them, reads each table page once instead of once per bucket.
        rowid: ColumnElement[int] = literal_column("rowid")
        live = live.where(rowid.in_(select(rowid).select_from(t).where(wanted)))
    else:
        live = live.where(wanted)
    b = tier.blocks
    if b is None:
        return live
    none = [cast(null(), c.type) for c in (t.c.min, t.c.max, t.c.sum, t.c.count, t.c.last, t.c.last_ts_ms)]
    blocks = select(b.c.series_id, b.c.block, *none, b.c.data).where(
        b.c.series_id.in_(ids), b.c.block >= block_of(lo), b.c.block < hi)
    return union_all(blocks, live)  # type: ignore[return-value]


def read_rollups(conn: Connection, tier: Tier, series_ids: Iterable[int], since_s: float,
                 until_s: float) -> Iterator[tuple[int, Rollups]]:
    """(series id, buckets) of every series among ``series_ids`` with buckets starting in
    ``[since_s, until_s)``, in ascending series id; series without a bucket there are left out.

    Packed blocks and live rows are read together; a bucket found in both (late data for a
    compacted day) is merged by the rollup rules, so it counts once."""
    lo, hi = math.ceil(since_s), math.ceil(until_s)
    for part in chunks(sorted(set(series_ids))):
        raw = driver_rows(conn.execute(_window_query(conn, tier, part, lo, hi)))
        if not raw:
            continue
        packed_rows = [r for r in raw if r[WIDTH] is not None]
        live = bucket_table([r for r in raw if r[WIDTH] is None] if packed_rows else raw)
        yield from _series_of(_Packed.of(packed_rows, tier.width_s, lo, hi), live)


def driver_rows(result: CursorResult[Any]) -> Sequence[Any]:
    """All rows of ``result`` as the driver's own tuples, with no SQLAlchemy Row object per row: a
    bulk read of buckets or events is hundreds of thousands of rows."""
    cursor = getattr(result, "cursor", None)
    rows = cursor.fetchall() if cursor is not None else [tuple(r) for r in result]
    result.close()
    return rows


def bucket_table(rows: Sequence[Any]) -> np.ndarray:
    """Rows of (series id, bucket, min, max, sum, count, last, last time) as an n × 8 table sorted by
    series and bucket."""
    # fromiter over the flattened rows: np.array() on a list of rows is 50x slower.
    table = np.fromiter(chain.from_iterable(r[:WIDTH] for r in rows), dtype=np.float64,
                        count=len(rows) * WIDTH).reshape(-1, WIDTH)
    if len(table) > 1 and not _in_key_order(table[:, SERIES], table[:, BUCKET]):
        table = table[np.lexsort((table[:, BUCKET], table[:, SERIES]))]
    return table


def _in_key_order(ids: np.ndarray, starts: np.ndarray) -> bool:
    step, later = np.diff(ids), np.diff(starts)
    return bool(((step > 0) | ((step == 0) & (later > 0))).all())


@dataclass(frozen=True, slots=True)
class _Packed:
    """The buckets of a query's packed blocks as one table, and where each series' buckets inside
    ``[lo, hi)`` begin and end in it: a series is then a slice of each column, with no copy per
    series and no pass over the columns per series."""

    ids: np.ndarray  # series ids, ascending
    begin: np.ndarray  # row of each series' first bucket inside the window
    end: np.ndarray  # one past its last
    table: np.ndarray  # n × 8, column-major, sorted by series and bucket
    count: np.ndarray  # the count column as int64

    @classmethod
    def of(cls, rows: Sequence[Any], width_s: int, lo: int, hi: int) -> _Packed:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        starts = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        # A block's buckets are in order, so blocks in key order (as the primary key's index usually
        # returns them) give buckets in order.
        if len(rows) > 1 and not _in_key_order(ids, starts):
            order = np.lexsort((starts, ids))
            rows, ids, starts = [rows[i] for i in order], ids[order], starts[order]
        table = unpack([r[WIDTH] for r in rows], ids, starts, width_s)
        series = np.unique(ids)
        # Only a series' first and last blocks reach outside the window: find its edges by key.
        found = keys(table)
        begin = np.searchsorted(found, (series << 32) | lo)
        end = np.searchsorted(found, (series << 32) | hi)
        return cls(series, begin, end, table, table[:, COUNT].astype(np.int64))


def _series_of(packed: _Packed, live: np.ndarray) -> Iterator[tuple[int, Rollups]]:
    """Each series' buckets, packed and live, in ascending series id. A series' live rows usually all
    start after its packed buckets and are appended; where one meets a packed bucket (late data for
    a compacted day) the two are merged by the rollup rules."""
    live_ids = live[:, SERIES].astype(np.int64)
    live_first = np.flatnonzero(np.concatenate(([True], np.diff(live_ids) != 0))) if len(live) else live_ids
    live_edges = np.append(live_first, len(live))
    live_of = dict(zip(live_ids[live_first].tolist(), zip(live_edges[:-1].tolist(), live_edges[1:].tolist(),
                                                           strict=True), strict=True))
    packed_of = {sid: k for k, sid in enumerate(packed.ids.tolist())}
    t = packed.table
    for sid in sorted(packed_of.keys() | live_of.keys()):
        k = packed_of.get(sid)
        a, b = (int(packed.begin[k]), int(packed.end[k])) if k is not None else (0, 0)
        rows = live_of.get(sid)
        if rows is None:
            if b > a:
                yield sid, Rollups(t[a:b, BUCKET], t[a:b, MIN], t[a:b, MAX], t[a:b, SUM], packed.count[a:b],
                                   t[a:b, LAST])
            continue
        extra = live[rows[0]:rows[1]]
        repeated = bool((np.diff(extra[:, BUCKET]) == 0).any())
        if b > a and (repeated or extra[0, BUCKET] <= t[b - 1, BUCKET]):
            yield sid, _columns(merge_sorted(t[a:b], extra))
        elif b > a:
            ts, low, high, total, last = (np.concatenate((t[a:b, c], extra[:, c]))
                                          for c in (BUCKET, MIN, MAX, SUM, LAST))
            yield sid, Rollups(ts, low, high, total,
                               np.concatenate((packed.count[a:b], extra[:, COUNT].astype(np.int64))), last)
        else:
            yield sid, _columns(merge_duplicates(extra) if repeated else extra)


def read_series(conn: Connection, tier: Tier, refs: Sequence[SeriesRef], since_s: float, until_s: float,
                row_budget: int = ROW_BUDGET) -> Iterator[tuple[SeriesRef, Rollups]]:
    """(series, buckets) of every series in ``refs``, in the order of ``refs``; a series without
    buckets in the window gets :data:`NO_BUCKETS`. Series are read in slices of at most
    ``row_budget`` buckets, so memory stays bounded however many series are asked for."""
    per_series = max(1, int((until_s - since_s) // tier.width_s) + 1)
    size = max(1, row_budget // per_series)
    for part in chunks(refs, size):
        found = dict(read_rollups(conn, tier, [r.id for r in part], since_s, until_s))
        for ref in part:
            yield ref, found.get(ref.id, NO_BUCKETS)
