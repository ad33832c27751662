"""In-memory rollup aggregation, flushed to the rollup tiers in one transaction.

Ingest folds every durable batch into per-(series, bucket) accumulators; a periodic flush merges them
into the tier tables (min/max/sum/count/last) and advances this collector's watermarks over the raw
ingest log in the same transaction. After a crash the batches past the watermarks are folded again,
so every batch contributes to the rollups exactly once.

The 1-minute tier is flushed often (charts of the last hour stay fresh); the hourly tier and the
latest values, which every flush would otherwise rewrite for every series it touched, may wait for
a later, coarse flush. Until then their share of each fine flush waits here as hourly cells, and the
ingest log ids they cover stay behind the coarse watermark (:mod:`collector.store.watermark`), so a
refold after a crash puts those batches into the hourly tier and the latest values only.

Folding works on whole batches as arrays: a batch's points are read into numpy once and cut into
runs of one series and bucket (its *partial cells*), whose min, max, count, last value and sum are
reductions over those runs. Partial cells wait as arrays until the flush, which merges them per
(series, bucket) and derives the coarser tiers and the latest values from the merged cells. Sums
are added left to right in the order the points and batches were folded, exactly as a running
total per cell would add them, so the stored rollups do not depend on how batches were grouped
into flushes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from collector.store.bulk import insert_columns, insert_returning, is_postgresql, merge_columns
from collector.store.read.labels import EMPTY as EMPTY_LABELS
from collector.store.read.labels import encode_labels
from collector.store.read.tiers import TIERS, Tier
from collector.store.samples import FlatSamples, Labels, flatten
from collector.store.schema import series

SeriesKey = tuple[str, str, str]  # (host_id, name, canonical labels JSON)

# The largest magnitude a point may have. A bucket's count is a 32-bit integer, so its sum is at most
# 2^31 * 1e298 < 2.2e307, below the largest double (1.8e308): sums, merges in the store and averages
# stay finite on every backend. Points beyond it are left out of the rollups like NaN and infinity.
MAX_ABS_VALUE = 1e298

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


def sequential_sums(values: Floats, starts: Ints, ends: Ints) -> Floats:
    """``sum(values[a:b])`` for every run, added left to right from 0.0 like Python's ``sum``.

    numpy's own reductions add in pairs, which rounds differently; here the k-th value of every
    run is added in one vectorised step, so the cost follows the longest run. Runs of very
    different lengths (rare) are summed one by one instead.
    """
    n = len(starts)
    out = np.zeros(n)
    if n == 0:
        return out
    lengths = ends - starts
    longest = int(lengths.max())
    if longest * n > 4 * len(values) + 4096:
        flat = values.tolist()
        return np.array([sum(flat[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)],
                        dtype=np.float64)
    for k in range(longest):
        live = lengths > k
        if live.all():
            out += values[starts + k]
        else:
            out[live] += values[starts[live] + k]
    return out


def _run_starts(*keys: NDArray[Any]) -> Ints:
    """Indices where a run of equal keys (all arrays, element by element) begins."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(change)


@dataclass
class Cells:
    """Rollup cells as columns: one row per (series, bucket), or partial cells still to be merged.

    ``rank`` orders merges: the fold order of a partial cell, or for a merged cell the rank of its
    first part (the order in which a running total would have seen it).
    """

    sid: Ints  # series index of the aggregator
    bucket: Ints  # bucket start, unix seconds
    mn: Floats
    mx: Floats
    sm: Floats
    cnt: Ints
    last: Floats
    last_ts: Ints
    rank: Ints

    def __len__(self) -> int:
        return len(self.sid)

    def take(self, idx: NDArray[Any]) -> Cells:
        return Cells(self.sid[idx], self.bucket[idx], self.mn[idx], self.mx[idx], self.sm[idx], self.cnt[idx],
                     self.last[idx], self.last_ts[idx], self.rank[idx])

    @staticmethod
    def concat(parts: list[Cells]) -> Cells:
        return Cells(*(np.concatenate([getattr(p, f) for p in parts]) for f in _CELL_FIELDS))  # type: ignore[arg-type]

    def merged(self, phase: Ints | None = None) -> Cells:
        """One cell per (series, bucket): parts merged in (phase, rank) order, the way a running total
        would have merged them one after the other (the last value of equal stamps: the later part)."""
        if not len(self):
            return self
        keys = (self.rank,) if phase is None else (self.rank, phase)
        order = np.lexsort((*keys, self.bucket, self.sid))
        c = self.take(order)
        starts = _run_starts(c.sid, c.bucket)
        ends = np.append(starts[1:], len(c))
        by_last = np.lexsort((*keys, self.last_ts, self.bucket, self.sid))
        final = by_last[ends - 1]  # the part with the newest last stamp; of equal stamps the later one
        return Cells(c.sid[starts], c.bucket[starts], np.minimum.reduceat(c.mn, starts),
                     np.maximum.reduceat(c.mx, starts), sequential_sums(c.sm, starts, ends),
                     np.add.reduceat(c.cnt, starts), self.last[final], self.last_ts[final], c.rank[starts])


_NOT_DATED = np.iinfo(np.int64).min  # a point that does not count as a host's newest data
_CELL_FIELDS = ("sid", "bucket", "mn", "mx", "sm", "cnt", "last", "last_ts", "rank")
_NO_INTS, _NO_FLOATS = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
_EMPTY = Cells(_NO_INTS, _NO_INTS, _NO_FLOATS, _NO_FLOATS, _NO_FLOATS, _NO_INTS, _NO_FLOATS, _NO_INTS, _NO_INTS)
FINE, COARSE = TIERS  # the 1-minute and the hourly tier
MAX_KNOWN_SERIES = 1_000_000  # series whose sid and stored id the aggregator remembers between flushes
HELD_PARTS = 4  # held coarse parts (one per fine flush) merged into one when there are this many


class RollupAggregator:
    """Accumulates points per series and bucket until :meth:`flush`."""

    def __init__(self, retention_s: dict[str, float]) -> None:
        self.retention_s = retention_s
        # Partial cells of the finest tier, those of batches already in the stored finest tier (a
        # refold behind the coarse watermark only), and those that went straight into the coarsest tier.
        self._fine: list[Cells] = []
        self._refine: list[Cells] = []
        self._coarse: list[Cells] = []
        self._pending = 0
        self._rank = 0
        # Coarse cells of earlier fine flushes, by stored series id, and which phase of a running
        # total each belongs to (0: folded straight into the coarse tier, 1: rolled up from finer cells).
        self._held: list[tuple[Cells, Ints]] = []
        # Every series seen: (host, name, sorted label pairs) -> sid, an index into _keys and _ids (its
        # stored id, 0 until the first flush that writes it). Forgotten, between flushes, past a bound.
        self._index: dict[tuple[str, str, Labels], int] = {}
        self._keys: list[SeriesKey] = []
        self._ids: Ints = np.zeros(0, dtype=np.int64)
        # By sid: the newest bucket of the finest tier this aggregator has written (-1: none). A cell
        # past it is new to the store unless another collector, or this one before a restart, wrote it.
        self._fine_written: Ints = np.zeros(0, dtype=np.int64)
        self.last_data_ms: dict[str, int] = {}
        self.points = 0
        self.nonfinite = 0  # NaN, ±inf or too large: left out of the rollups (the raw batch keeps them)
        self._label_keys: dict[Labels, str] = {}
        self._series_ids: dict[SeriesKey, int] = {}

    def __len__(self) -> int:
        """Pending partial cells (at least as many as the cells they merge into)."""
        return self._pending

    def _series_of(self, host_id: str, flat: FlatSamples) -> list[int]:
        """The sid of every series of the batch that has points."""
        index, keys, label_keys = self._index, self._keys, self._label_keys
        sids: list[int] = []
        for name, labels in zip(flat.names, flat.labels, strict=True):
            sid = index.get((host_id, name, labels))
            if sid is None:
                text = label_keys.get(labels) if labels else EMPTY_LABELS
                if text is None:
                    text = encode_labels(labels)
                    if len(label_keys) < 200_000:
                        label_keys[labels] = text
                sid = index[(host_id, name, labels)] = len(keys)
                keys.append((host_id, name, text))
            sids.append(sid)
        return sids

    def fold(self, host_id: str, batch: object, now_s: float, flat: FlatSamples | None = None,
             fine: bool = True) -> int:
        """Fold a ``patrol.v1.Samples`` message (or ``flat``, the same batch already read); return the
        number of points.

        Points go into the finest tier's cells only; coarser tiers and latest values are derived
        from those cells at flush time. Points older than the finest tier's retention go straight
        into the coarsest tier. ``fine=False``: the batch is in the stored finest tier already and
        goes into the coarser tiers and latest values only.
        """
        return self.fold_many([(host_id, flatten(batch) if flat is None else flat)], now_s, fine)

    def fold_many(self, batches: Sequence[tuple[str, FlatSamples]], now_s: float, fine: bool = True) -> int:
        """Fold batches of (host, points) in their order: the same cells as :meth:`fold` one after the
        other, read in one pass of array operations. Returns the number of points."""
        sids: list[int] = []
        sizes: list[int] = []
        for host_id, flat in batches:
            sids += self._series_of(host_id, flat)
            sizes += flat.sizes
        counts = [len(flat.stamps) for _, flat in batches]
        total = sum(counts)
        if total == 0:
            for host_id, _ in batches:
                self.last_data_ms[host_id] = self.last_data_ms.get(host_id, 0)
            return 0
        if len(batches) == 1:
            ts, vs = batches[0][1].stamps, batches[0][1].values
        else:
            ts = np.concatenate([flat.stamps for _, flat in batches])
            vs = np.concatenate([flat.values for _, flat in batches])
        sizes_a = np.array(sizes, dtype=np.int64)
        entry = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes_a)
        if total > 1:
            down = (ts[1:] < ts[:-1]) & (entry[1:] == entry[:-1])
            if down.any():  # a series out of order is sorted by time, then value; the others stay as sent
                unsorted = np.zeros(len(sizes), dtype=bool)
                unsorted[entry[1:][down]] = True
                by_value = np.where(unsorted[entry], vs, 0.0)
                order = np.lexsort((np.arange(total), by_value, ts, entry))
                ts, vs = ts[order], vs[order]
        finite = (vs >= -MAX_ABS_VALUE) & (vs <= MAX_ABS_VALUE)  # also false for NaN
        all_finite = bool(finite.all())
        # A lone point that cannot be folded does not count as the host's newest data.
        dated = ts if all_finite else np.where(finite | (sizes_a > 1)[entry], ts, _NOT_DATED)
        self._note_newest(batches, counts, dated)

        w_s, cw_s = FINE.width_s, COARSE.width_s
        floor_ms = int((now_s - self.retention_s[FINE.name]) // w_s * w_s) * 1000
        is_fine = ts >= floor_ms
        bucket = np.where(is_fine, ts // (w_s * 1000) * w_s, ts // (cw_s * 1000) * cw_s)
        starts = _run_starts(entry, is_fine, bucket)
        ends = np.append(starts[1:], total)
        if all_finite:
            mn = np.minimum.reduceat(vs, starts)
            mx = np.maximum.reduceat(vs, starts)
            sm = sequential_sums(vs, starts, ends)
            cnt = ends - starts
            last = vs[ends - 1]
        else:
            self.nonfinite += int(total - np.count_nonzero(finite))
            mn = np.minimum.reduceat(np.where(finite, vs, np.inf), starts)
            mx = np.maximum.reduceat(np.where(finite, vs, -np.inf), starts)
            sm = sequential_sums(np.where(finite, vs, 0.0), starts, ends)
            cnt = np.add.reduceat(finite.astype(np.int64), starts)
            last_i = np.maximum.reduceat(np.where(finite, np.arange(total), -1), starts)
            last = vs[np.maximum(last_i, 0)]
        rank = np.arange(self._rank, self._rank + len(starts), dtype=np.int64)
        self._rank += len(starts)
        sid = np.array(sids, dtype=np.int64)[entry[starts]]
        cells = Cells(sid, bucket[starts], mn, mx, sm, cnt, last, ts[ends - 1], rank)
        if not all_finite:
            cells = cells.take(cnt > 0)
        fine_part = is_fine[starts] if all_finite else is_fine[starts][cnt > 0]
        into = self._fine if fine else self._refine
        if fine_part.all():
            into.append(cells)
        else:
            into.append(cells.take(fine_part))
            self._coarse.append(cells.take(~fine_part))
        self._pending += len(cells)
        self.points += total
        return total

    def _note_newest(self, batches: Sequence[tuple[str, FlatSamples]], counts: list[int], dated: Ints) -> None:
        """Each batch's newest dated point becomes its host's newest data, if newer."""
        starts = np.cumsum([0, *counts[:-1]])[[k for k, n in enumerate(counts) if n]]
        newest = iter(np.maximum.reduceat(dated, starts).tolist())
        last = self.last_data_ms
        for (host_id, _), n in zip(batches, counts, strict=True):
            mine = next(newest) if n else _NOT_DATED
            last[host_id] = max(last.get(host_id, 0), mine)

    def _hold_coarse(self, fine: Cells, ids: Ints) -> None:
        """Keep this flush's share of the coarse tier: cells rolled up from the merged fine cells and
        from those of a refold, and those folded straight into the coarse tier; sids become stored ids."""
        w = COARSE.width_s
        refine = Cells.concat(self._refine).merged() if self._refine else _EMPTY
        up = Cells.concat([fine, refine])
        up.bucket = up.bucket - up.bucket % w
        direct = Cells.concat(self._coarse) if self._coarse else _EMPTY
        # A running total sees the points folded straight into this tier first, then the finer cells.
        both = Cells.concat([direct, up])
        if not len(both):
            return
        phase = np.concatenate([np.zeros(len(direct), dtype=np.int64), np.ones(len(up), dtype=np.int64)])
        both.sid = ids[both.sid]
        self._held.append(_merged_phased(both, phase))
        if len(self._held) >= HELD_PARTS:
            # What is held stays about one cell per series and hour, however many flushes it spans.
            self._held = [self._all_held()]

    def _all_held(self) -> tuple[Cells, Ints]:
        return _merged_phased(Cells.concat([c for c, _ in self._held]), np.concatenate([p for _, p in self._held]))

    @property
    def held_cells(self) -> int:
        """Cells held for the coarse flush."""
        return sum(len(c) for c, _ in self._held)

    # ------------------------------------------------------------------ flushing

    def _resolve_ids(self, conn: Connection, keys: list[SeriesKey]) -> None:
        missing = [k for k in keys if k not in self._series_ids]
        if not missing:
            return
        # New series get their ids from the insert; those that were there already (stored by an
        # earlier run or another collector) are read per host, with the rest of the host's series.
        created = insert_returning(conn, "INSERT INTO series (host_id, name, labels)",
                                   "ON CONFLICT (host_id, name, labels) DO NOTHING", "id, host_id, name, labels",
                                   [list(c) for c in zip(*sorted(missing), strict=True)], ("text", "text", "text"))
        for sid, host_id, name, labels in created:
            self._series_ids[(host_id, name, labels)] = sid
        known = [k for k in missing if k not in self._series_ids]
        if known:
            self._load_ids(conn, sorted({k[0] for k in known}))

    def _load_ids(self, conn: Connection, hosts: list[str]) -> None:
        for i in range(0, len(hosts), 500):
            rows = conn.execute(select(series.c.id, series.c.host_id, series.c.name, series.c.labels)
                                .where(series.c.host_id.in_(hosts[i:i + 500])))
            for r in rows:
                self._series_ids[(r.host_id, r.name, r.labels)] = r.id

    def _reset(self) -> None:
        self._fine.clear()
        self._refine.clear()
        self._coarse.clear()
        self._pending = 0
        self.points = 0
        if len(self._keys) > MAX_KNOWN_SERIES:
            self._index.clear()
            self._keys.clear()
            self._ids = np.zeros(0, dtype=np.int64)
            self._fine_written = np.zeros(0, dtype=np.int64)
            self._series_ids.clear()

    def _stored_ids(self, conn: Connection, present: Ints) -> Ints:
        """The stored id of every sid (those in ``present`` resolved, new series created)."""
        if len(self._ids) < len(self._keys):
            self._ids = np.concatenate([self._ids, np.zeros(len(self._keys) - len(self._ids), dtype=np.int64)])
        new = present[self._ids[present] == 0]
        if len(new):
            keys = [self._keys[i] for i in new.tolist()]
            self._resolve_ids(conn, keys)
            self._ids[new] = [self._series_ids[k] for k in keys]
        return self._ids

    def flush(self, conn: Connection, coarse: bool = True) -> int:
        """Merge what was folded into the finest tier; with ``coarse``, also everything held for the
        coarse tier and the latest values. Returns the rows written."""
        written = 0
        if self._pending:
            fine = Cells.concat(self._fine).merged() if self._fine else _EMPTY
            present = np.unique(np.concatenate([c.sid for c in (*self._fine, *self._refine, *self._coarse)]))
            ids = self._stored_ids(conn, present)
            if len(self._fine_written) < len(self._keys):
                grow = len(self._keys) - len(self._fine_written)
                self._fine_written = np.concatenate([self._fine_written, np.full(grow, -1, dtype=np.int64)])
            written += _write_cells(conn, FINE, fine, ids[fine.sid], new=fine.bucket > self._fine_written[fine.sid])
            np.maximum.at(self._fine_written, fine.sid, fine.bucket)
            self._hold_coarse(fine, ids)
        self._reset()
        if coarse:
            written += self._flush_coarse(conn)
        return written

    def _flush_coarse(self, conn: Connection) -> int:
        if not self._held:
            return 0
        cells, _ = self._all_held()
        self._held.clear()
        self._rank = 0
        written = _write_cells(conn, COARSE, cells, cells.sid)
        # The latest value of a series: its coarse cell with the newest last stamp.
        newest = np.lexsort((cells.last_ts, cells.sid))
        ends = np.append(_run_starts(cells.sid[newest])[1:], len(newest)) - 1
        latest = cells.take(newest[ends])
        sid = latest.sid
        if is_postgresql(conn):  # row locks in key order, as for the tiers
            order = np.argsort(sid, kind="stable")
            latest, sid = latest.take(order), sid[order]
        insert_columns(conn, "INSERT INTO latest (series_id, ts_ms, value)", _UPSERT_LATEST_TAIL,
                       [sid, latest.last_ts, latest.last], ("int4", "int8", "float8"))
        return written + len(latest)


def _merged_phased(cells: Cells, phase: Ints) -> tuple[Cells, Ints]:
    """``cells`` merged per series and bucket (:meth:`Cells.merged`), each with the phase of its first part."""
    merged = cells.merged(phase)
    return merged, np.where(np.isin(merged.rank, cells.rank[phase == 0]), 0, 1)


def _write_cells(conn: Connection, tier: Tier, cells: Cells, sid: Ints, new: NDArray[np.bool_] | None = None) -> int:
    """Merge cells into a tier's table (``sid``: their stored series ids; ``new``: those no earlier
    flush of this aggregator wrote); returns the rows written."""
    if not len(cells):
        return 0
    if new is None:
        new = np.zeros(len(cells), dtype=bool)
    # Collectors sharing a PostgreSQL may merge into the same rows; taking the row locks in key
    # order keeps two flushes from deadlocking. SQLite has one writer at a time: no sort needed.
    if is_postgresql(conn):
        order = np.lexsort((cells.bucket, sid))
        cells, sid, new = cells.take(order), sid[order], new[order]
    _, tail = _merge_rollup_sql(conn, tier.table.name)
    merge_columns(conn, tier.table.name, ROLLUP_COLUMNS, tail,
                  [sid, cells.bucket, cells.mn, cells.mx, cells.sm, cells.cnt, cells.last, cells.last_ts],
                  ROLLUP_PG_TYPES, new)
    return len(cells)


ROLLUP_COLUMNS = ("series_id", "bucket", "min", "max", "sum", "count", "last", "last_ts_ms")
ROLLUP_PG_TYPES = ("int4", "int8", "float8", "float8", "float8", "int4", "float8", "int8")


def _merge_rollup_sql(conn: Connection, table: str) -> tuple[str, str]:
    lo, hi = ("LEAST", "GREATEST") if is_postgresql(conn) else ("MIN", "MAX")
    return (
        f"INSERT INTO {table} ({', '.join(ROLLUP_COLUMNS)})",
        f"ON CONFLICT (series_id, bucket) DO UPDATE SET "
        f"min = {lo}({table}.min, excluded.min), max = {hi}({table}.max, excluded.max), "
        f"sum = {table}.sum + excluded.sum, count = {table}.count + excluded.count, "
        f"last = CASE WHEN excluded.last_ts_ms >= {table}.last_ts_ms THEN excluded.last ELSE {table}.last END, "
        f"last_ts_ms = {hi}({table}.last_ts_ms, excluded.last_ts_ms)",
    )


_UPSERT_LATEST_TAIL = ("ON CONFLICT (series_id) DO UPDATE SET ts_ms = excluded.ts_ms, value = excluded.value "
                       "WHERE excluded.ts_ms >= latest.ts_ms")


def _insert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
