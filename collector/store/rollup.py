"""In-memory rollup aggregation, flushed to the rollup tiers in one transaction.

Ingest folds every durable batch into per-(series, bucket) accumulators; a periodic flush merges them
into the tier tables (min/max/sum/count/last) and advances this collector's watermark over the raw
ingest log in the same transaction. After a crash the batches past the watermark are folded again,
so every batch contributes to the rollups exactly once.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Table, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from collector.store.schema import latest, rollup_1h, rollup_1m, series

SeriesKey = tuple[str, str, str]  # (host_id, name, canonical labels JSON)


@dataclass(frozen=True)
class Tier:
    table: Table
    width_s: int
    name: str


TIERS: tuple[Tier, ...] = (Tier(rollup_1m, 60, "1m"), Tier(rollup_1h, 3600, "1h"))


def canonical_labels(labels: Iterable[tuple[str, str]]) -> str:
    return json.dumps(sorted(labels), separators=(",", ":"), ensure_ascii=False)


class RollupAggregator:
    """Accumulates points per series and bucket until :meth:`flush`."""

    def __init__(self, retention_s: dict[str, float]) -> None:
        self.retention_s = retention_s
        # per tier: (series key, bucket) -> [min, max, sum, count, last, last_ts_ms]
        self.acc: list[dict[tuple[SeriesKey, int], list[float]]] = [{} for _ in TIERS]
        self.latest: dict[SeriesKey, tuple[int, float]] = {}
        self.last_data_ms: dict[str, int] = {}
        self.points = 0
        self._label_keys: dict[tuple[tuple[str, str], ...], str] = {}
        self._series_ids: dict[SeriesKey, int] = {}

    def __len__(self) -> int:
        return sum(len(a) for a in self.acc)

    def _labels_key(self, labels: object) -> str:
        items = tuple(sorted(labels.items()))  # type: ignore[attr-defined]
        key = self._label_keys.get(items)
        if key is None:
            key = canonical_labels(items)
            if len(self._label_keys) < 200_000:
                self._label_keys[items] = key
        return key

    def fold(self, host_id: str, batch: object, now_s: float) -> int:
        """Fold a ``patrol.v1.Samples`` message; return the number of points."""
        n_points = 0
        newest = self.last_data_ms.get(host_id, 0)
        floors = [int((now_s - self.retention_s[t.name]) // t.width_s * t.width_s) for t in TIERS]
        for s in batch.series:  # type: ignore[attr-defined]
            ts = list(s.timestamps_ms)
            vs = list(s.values)
            n = len(ts)
            if n == 0:
                continue
            if n > 1 and ts != sorted(ts):
                pairs = sorted(zip(ts, vs, strict=True))
                ts = [p[0] for p in pairs]
                vs = [p[1] for p in pairs]
            key: SeriesKey = (host_id, s.name, self._labels_key(s.labels))
            n_points += n
            last_ts, last_v = ts[-1], vs[-1]
            if last_ts > newest:
                newest = last_ts
            prev = self.latest.get(key)
            if prev is None or last_ts >= prev[0]:
                self.latest[key] = (last_ts, last_v)
            for tier, acc, floor in zip(TIERS, self.acc, floors, strict=True):
                w_ms = tier.width_s * 1000
                i = 0
                while i < n:
                    b = ts[i] // w_ms
                    j = i + 1 if n == 1 else bisect_left(ts, (b + 1) * w_ms, i)
                    bucket = b * tier.width_s
                    if bucket >= floor:
                        chunk = vs[i:j]
                        mn, mx, sm = min(chunk), max(chunk), sum(chunk)
                        cell = acc.get((key, bucket))
                        if cell is None:
                            acc[(key, bucket)] = [mn, mx, sm, j - i, vs[j - 1], ts[j - 1]]
                        else:
                            if mn < cell[0]:
                                cell[0] = mn
                            if mx > cell[1]:
                                cell[1] = mx
                            cell[2] += sm
                            cell[3] += j - i
                            if ts[j - 1] >= cell[5]:
                                cell[4] = vs[j - 1]
                                cell[5] = ts[j - 1]
                    i = j
        self.last_data_ms[host_id] = newest
        self.points += n_points
        return n_points

    # ------------------------------------------------------------------ flushing

    def _resolve_ids(self, conn: Connection, keys: set[SeriesKey]) -> None:
        missing = [k for k in keys if k not in self._series_ids]
        if not missing:
            return
        by_host: dict[str, list[SeriesKey]] = {}
        for k in missing:
            by_host.setdefault(k[0], []).append(k)
        for host_id, ks in by_host.items():
            rows = conn.execute(
                select(series.c.id, series.c.name, series.c.labels).where(series.c.host_id == host_id)
            ).all()
            for r in rows:
                self._series_ids[(host_id, r.name, r.labels)] = r.id
            new = [k for k in ks if k not in self._series_ids]
            if new:
                conn.execute(
                    _insert(conn, series).on_conflict_do_nothing(),
                    [{"host_id": k[0], "name": k[1], "labels": k[2]} for k in new],
                )
                rows = conn.execute(
                    select(series.c.id, series.c.name, series.c.labels).where(series.c.host_id == host_id)
                ).all()
                for r in rows:
                    self._series_ids[(host_id, r.name, r.labels)] = r.id

    def forget_series_ids(self) -> None:
        self._series_ids.clear()

    def flush(self, conn: Connection) -> int:
        """Merge everything accumulated into the tier tables; return rows written."""
        keys: set[SeriesKey] = set(self.latest)
        for acc in self.acc:
            keys.update(k for k, _ in acc)
        if not keys:
            return 0
        self._resolve_ids(conn, keys)
        ids = self._series_ids
        written = 0
        for tier, acc in zip(TIERS, self.acc, strict=True):
            if not acc:
                continue
            rows = [
                {"series_id": ids[k], "bucket": b, "min": c[0], "max": c[1], "sum": c[2], "count": c[3],
                 "last": c[4], "last_ts_ms": c[5]}
                for (k, b), c in acc.items()
            ]
            conn.execute(_merge_rollup(conn, tier.table), rows)
            written += len(rows)
            acc.clear()
        rows = [{"series_id": ids[k], "ts_ms": t, "value": v} for k, (t, v) in self.latest.items()]
        ins = _insert(conn, latest)
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[latest.c.series_id],
                set_={"ts_ms": ins.excluded.ts_ms, "value": ins.excluded.value},
                where=ins.excluded.ts_ms >= latest.c.ts_ms,
            ),
            rows,
        )
        written += len(rows)
        self.latest.clear()
        self.points = 0
        return written


def _insert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _merge_rollup(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    ins = _insert(conn, table)
    if conn.dialect.name == "postgresql":
        lo, hi = func.least, func.greatest
    else:
        lo, hi = func.min, func.max
    c = table.c
    newer = ins.excluded.last_ts_ms >= c.last_ts_ms
    return ins.on_conflict_do_update(
        index_elements=[c.series_id, c.bucket],
        set_={
            "min": lo(c.min, ins.excluded.min),
            "max": hi(c.max, ins.excluded.max),
            "sum": c.sum + ins.excluded.sum,
            "count": c.count + ins.excluded.count,
            "last": case((newer, ins.excluded.last), else_=c.last),
            "last_ts_ms": hi(c.last_ts_ms, ins.excluded.last_ts_ms),
        },
    )
