"""In-memory rollup aggregation, flushed to the rollup tiers in one transaction.

Ingest folds every durable batch into per-(series, bucket) accumulators; a periodic flush merges them
into the tier tables (min/max/sum/count/last) and advances this collector's watermark over the raw
ingest log in the same transaction. After a crash the batches past the watermark are folded again,
so every batch contributes to the rollups exactly once.
"""

from __future__ import annotations

from bisect import bisect_left
from math import isfinite
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from collector.store.bulk import insert_rows, is_postgresql
from collector.store.read.labels import encode_labels
from collector.store.read.tiers import TIERS
from collector.store.schema import series

SeriesKey = tuple[str, str, str]  # (host_id, name, canonical labels JSON)

# The largest magnitude a point may have. A bucket's count is a 32-bit integer, so its sum is at most
# 2^31 * 1e298 < 2.2e307, below the largest double (1.8e308): sums, merges in the store and averages
# stay finite on every backend. Points beyond it are left out of the rollups like NaN and infinity.
MAX_ABS_VALUE = 1e298


def _merge(acc: dict[tuple[SeriesKey, int], list[float]], k: tuple[SeriesKey, int], mn: float, mx: float,
           sm: float, cnt: int, last: float, last_ts: int) -> None:
    cell = acc.get(k)
    if cell is None:
        acc[k] = [mn, mx, sm, cnt, last, last_ts]
        return
    if mn < cell[0]:
        cell[0] = mn
    if mx > cell[1]:
        cell[1] = mx
    cell[2] += sm
    cell[3] += cnt
    if last_ts >= cell[5]:
        cell[4] = last
        cell[5] = last_ts


class RollupAggregator:
    """Accumulates points per series and bucket until :meth:`flush`."""

    def __init__(self, retention_s: dict[str, float]) -> None:
        self.retention_s = retention_s
        # per tier: (series key, bucket) -> [min, max, sum, count, last, last_ts_ms]
        self.acc: list[dict[tuple[SeriesKey, int], list[float]]] = [{} for _ in TIERS]
        self.latest: dict[SeriesKey, tuple[int, float]] = {}
        self.last_data_ms: dict[str, int] = {}
        self.points = 0
        self.nonfinite = 0  # NaN, ±inf or too large: left out of the rollups (the raw batch keeps them)
        self._label_keys: dict[tuple[tuple[str, str], ...], str] = {}
        self._series_ids: dict[SeriesKey, int] = {}

    def __len__(self) -> int:
        return sum(len(a) for a in self.acc)

    def _labels_key(self, labels: Any) -> str:
        items = tuple(sorted(labels.items()))
        key = self._label_keys.get(items)
        if key is None:
            key = encode_labels(items)
            if len(self._label_keys) < 200_000:
                self._label_keys[items] = key
        return key

    def fold(self, host_id: str, batch: object, now_s: float) -> int:
        """Fold a ``patrol.v1.Samples`` message; return the number of points.

        Points go into the finest tier's cells only; coarser tiers and latest values are derived
        from those cells at flush time, which costs per cell instead of per point. Points older
        than the finest tier's retention go straight into the coarsest tier.
        """
        n_points = 0
        newest = self.last_data_ms.get(host_id, 0)
        fine, coarse = TIERS[0], TIERS[-1]
        w_ms, w_s = fine.width_s * 1000, fine.width_s
        cw_ms, cw_s = coarse.width_s * 1000, coarse.width_s
        floor_ms = int((now_s - self.retention_s[fine.name]) // w_s * w_s) * 1000
        acc, cacc = self.acc[0], self.acc[-1]
        for s in batch.series:  # type: ignore[attr-defined]
            ts = s.timestamps_ms
            n = len(ts)
            if n == 0:
                continue
            labels = s.labels
            key: SeriesKey = (host_id, s.name, self._labels_key(labels) if labels else "[]")
            n_points += n
            if n == 1:
                t, v = ts[0], s.values[0]
                if not -MAX_ABS_VALUE <= v <= MAX_ABS_VALUE:  # also false for NaN
                    self.nonfinite += 1
                    continue
                if t > newest:
                    newest = t
                if t >= floor_ms:
                    _merge(acc, (key, t // w_ms * w_s), v, v, v, 1, v, t)
                else:
                    _merge(cacc, (key, t // cw_ms * cw_s), v, v, v, 1, v, t)
                continue
            ts = list(ts)
            vs = list(s.values)
            if ts != sorted(ts):
                pairs = sorted(zip(ts, vs, strict=True))
                ts = [p[0] for p in pairs]
                vs = [p[1] for p in pairs]
            if ts[-1] > newest:
                newest = ts[-1]
            i = 0
            while i < n:
                t0 = ts[i]
                if t0 >= floor_ms:
                    b = t0 // w_ms
                    j = bisect_left(ts, (b + 1) * w_ms, i)
                    cell_key, target = (key, b * w_s), acc
                else:
                    b = t0 // cw_ms
                    j = min(bisect_left(ts, (b + 1) * cw_ms, i), bisect_left(ts, floor_ms, i))
                    cell_key, target = (key, b * cw_s), cacc
                chunk = vs[i:j]
                total = sum(chunk)
                mn, mx = min(chunk), max(chunk)
                if not (isfinite(total) and mn >= -MAX_ABS_VALUE and mx <= MAX_ABS_VALUE):
                    # NaN, ±inf or a magnitude whose sums could overflow: no place in a rollup
                    finite = [v for v in chunk if -MAX_ABS_VALUE <= v <= MAX_ABS_VALUE]
                    self.nonfinite += len(chunk) - len(finite)
                    if not finite:
                        i = j
                        continue
                    chunk, total, mn, mx = finite, sum(finite), min(finite), max(finite)
                cell = target.get(cell_key)
                last = chunk[-1] if len(chunk) != j - i else vs[j - 1]
                if cell is None:
                    target[cell_key] = [mn, mx, total, len(chunk), last, ts[j - 1]]
                else:  # _merge(), inlined on the hot path
                    if mn < cell[0]:
                        cell[0] = mn
                    if mx > cell[1]:
                        cell[1] = mx
                    cell[2] += total
                    cell[3] += len(chunk)
                    if ts[j - 1] >= cell[5]:
                        cell[4] = last
                        cell[5] = ts[j - 1]
                i = j
        self.last_data_ms[host_id] = newest
        self.points += n_points
        return n_points

    def _derive(self) -> None:
        """Roll the finest cells up into the coarser tiers, then latest values from the coarsest."""
        for fine, coarse, tier in zip(self.acc, self.acc[1:], TIERS[1:], strict=False):
            w = tier.width_s
            for (key, b), c in fine.items():
                _merge(coarse, (key, b - b % w), c[0], c[1], c[2], int(c[3]), c[4], int(c[5]))
        latest = self.latest
        for (key, _), c in self.acc[-1].items():
            prev = latest.get(key)
            if prev is None or c[5] >= prev[0]:
                latest[key] = (int(c[5]), c[4])

    # ------------------------------------------------------------------ flushing

    def _resolve_ids(self, conn: Connection, keys: set[SeriesKey]) -> None:
        missing = [k for k in keys if k not in self._series_ids]
        if not missing:
            return
        hosts = sorted({k[0] for k in missing})
        self._load_ids(conn, hosts)
        new = [k for k in missing if k not in self._series_ids]
        if new:
            insert_rows(conn, "INSERT INTO series (host_id, name, labels)",
                        "ON CONFLICT (host_id, name, labels) DO NOTHING", sorted(new), ("text", "text", "text"))
            self._load_ids(conn, sorted({k[0] for k in new}))

    def _load_ids(self, conn: Connection, hosts: list[str]) -> None:
        for i in range(0, len(hosts), 500):
            rows = conn.execute(select(series.c.id, series.c.host_id, series.c.name, series.c.labels)
                                .where(series.c.host_id.in_(hosts[i:i + 500])))
            for r in rows:
                self._series_ids[(r.host_id, r.name, r.labels)] = r.id

    def flush(self, conn: Connection) -> int:
        """Merge everything accumulated into the tier tables; return rows written."""
        self._derive()
        keys: set[SeriesKey] = set(self.latest)
        for acc in self.acc:
            keys.update(k for k, _ in acc)
        if not keys:
            return 0
        self._resolve_ids(conn, keys)
        ids = self._series_ids
        # Collectors sharing a PostgreSQL may merge into the same rows; taking the row locks in key
        # order keeps two flushes from deadlocking. SQLite has one writer at a time: no sort needed.
        ordered = is_postgresql(conn)
        written = 0
        for tier, acc in zip(TIERS, self.acc, strict=True):
            if not acc:
                continue
            rows = [(ids[k], b, c[0], c[1], c[2], c[3], c[4], c[5]) for (k, b), c in acc.items()]
            if ordered:
                rows.sort()
            head, tail = _merge_rollup_sql(conn, tier.table.name)
            insert_rows(conn, head, tail, rows, ROLLUP_PG_TYPES)
            written += len(rows)
            acc.clear()
        latest_rows = [(ids[k], t, v) for k, (t, v) in self.latest.items()]
        if ordered:
            latest_rows.sort()
        insert_rows(conn, "INSERT INTO latest (series_id, ts_ms, value)", _UPSERT_LATEST_TAIL, latest_rows,
                    ("int4", "int8", "float8"))
        written += len(latest_rows)
        self.latest.clear()
        self.points = 0
        return written


ROLLUP_PG_TYPES = ("int4", "int8", "float8", "float8", "float8", "int4", "float8", "int8")


def _merge_rollup_sql(conn: Connection, table: str) -> tuple[str, str]:
    lo, hi = ("LEAST", "GREATEST") if is_postgresql(conn) else ("MIN", "MAX")
    return (
        f"INSERT INTO {table} (series_id, bucket, min, max, sum, count, last, last_ts_ms)",
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
