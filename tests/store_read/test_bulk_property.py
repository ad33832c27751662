"""Property: one bulk columnar read of many series answers exactly what reading each series alone does,
and what was written, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert

from collector.store.bulk import insert_rows
from collector.store.compaction import compact_series
from collector.store.engine import open_engine
from collector.store.read import encode_labels, find_series, read_rollups
from collector.store.read.tiers import TIERS
from collector.store.rollup import ROLLUP_PG_TYPES, _merge_rollup_sql
from collector.store.schema import hosts, rollup_1h, rollup_1h_blocks, series

HOUR = 3600
T0 = 1_780_000_000 // HOUR * HOUR
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
label_sets = st.dictionaries(st.sampled_from(["mount", "接口", "device"]), st.text(min_size=0, max_size=4),
                             max_size=2)
one_series = st.tuples(
    st.sampled_from(["h1", "h2", "主机3"]),
    st.sampled_from(["cpu.busy_percent", "disk.used_percent"]),
    label_sets,
    st.lists(st.tuples(st.integers(0, 200), finite, finite, st.integers(1, 400), finite, finite),
             max_size=40, unique_by=lambda b: b[0]),
)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = open_engine(store_url)
    yield eng
    eng.dispose()


Bucket = tuple[int, float, float, int, float, float]  # hour index, two bounds, count, sum, last
Series = tuple[str, str, dict[str, str], list[Bucket]]


def _write(engine: Engine, fleet: list[Series]) -> dict[int, np.ndarray]:
    """Store the series; return the rows written per series id (bucket, min, max, sum, count, last)."""
    written: dict[int, np.ndarray] = {}
    with engine.begin() as conn:
        for table in (rollup_1h, rollup_1h_blocks, series, hosts):
            conn.execute(delete(table))
        conn.execute(insert(hosts), [{"id": h, "customer_id": "c", "hostname": h, "source": "agent", "labels": {},
                                      "facts": {}, "agent_version": "", "first_seen_ms": 0, "last_seen_ms": 0}
                                     for h in ("h1", "h2", "主机3")])
        seen: set[tuple[str, str, str]] = set()
        for host, name, labels, buckets in fleet:
            key = (host, name, encode_labels(labels))
            if key in seen:
                continue
            seen.add(key)
            sid = conn.execute(insert(series).values(host_id=host, name=name, labels=key[2])
                               .returning(series.c.id)).scalar_one()
            rows = sorted((T0 + i * HOUR, min(a, b), max(a, b), s, n, last) for i, a, b, n, s, last in buckets)
            if rows:
                conn.execute(insert(rollup_1h), [
                    {"series_id": sid, "bucket": b, "min": lo, "max": hi, "sum": s, "count": n, "last": last,
                     "last_ts_ms": b * 1000} for b, lo, hi, s, n, last in rows])
            written[sid] = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return written


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fleet=st.lists(one_series, min_size=1, max_size=6), lo=st.integers(-5, 120), span=st.integers(0, 220))
def test_bulk_reads_equal_per_series_reads(engine: Engine, fleet: list[Series], lo: int, span: int) -> None:
    written = _write(engine, fleet)
    since, until = T0 + lo * HOUR, T0 + (lo + span) * HOUR
    tier = TIERS[-1]
    with engine.connect() as conn:
        refs = find_series(conn, ["h1", "h2", "主机3"], ["cpu.busy_percent", "disk.used_percent"])
        bulk = dict(read_rollups(conn, tier, [r.id for r in refs], since, until))
        alone = {r.id: dict(read_rollups(conn, tier, [r.id], since, until)).get(r.id) for r in refs}
    assert {r.id for r in refs} == set(written)
    for ref in refs:
        rows = written[ref.id]
        want = rows[(rows[:, 0] >= since) & (rows[:, 0] < until)]
        single = alone[ref.id]
        if not len(want):
            assert ref.id not in bulk and single is None
            continue
        for got in (bulk[ref.id], single):
            assert got is not None
            np.testing.assert_array_equal(np.column_stack([got.ts, got.min, got.max, got.sum, got.count, got.last]),
                                          want)


# Writes into the hourly tier the way the ingest writer makes them (its merging upsert), with
# compaction at random points in between: late writes land in hours of days already packed.
write = st.tuples(st.integers(0, 2), st.integers(0, 100), finite, finite, st.integers(1, 50), finite, finite,
                  st.integers(0, HOUR * 1000 - 1))  # series, hour, two bounds, count, sum, last and its time
step = st.one_of(st.lists(write, max_size=25).map(lambda ws: ("write", ws)),
                 st.integers(0, 100).map(lambda hour: ("compact", hour)))


def _merge_expected(cell: list[float] | None, lo: float, hi: float, n: int, s: float, last: float,
                    last_ts: int) -> list[float]:
    if cell is None:
        return [lo, hi, s, n, last, last_ts]
    return [min(cell[0], lo), max(cell[1], hi), cell[2] + s, cell[3] + n,
            last if last_ts >= cell[5] else cell[4], max(cell[5], last_ts)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8), lo=st.integers(-5, 100), span=st.integers(0, 120))
def test_compacted_days_and_live_rows_read_as_written(engine: Engine, steps: list[tuple[str, object]], lo: int,
                                                      span: int) -> None:
    sids = [next(iter(_write(engine, [(h, "cpu.busy_percent", {}, [])]))) for h in ("h1",)]
    with engine.begin() as conn:
        for i, h in enumerate(("h2", "主机3")):
            sids.append(conn.execute(insert(series).values(host_id=h, name="disk.used_percent", labels=f"[{i}]")
                                     .returning(series.c.id)).scalar_one())
        conn.execute(delete(rollup_1h_blocks))
    tier = TIERS[-1]
    head, tail = _merge_rollup_sql_for(engine)
    expected: dict[tuple[int, int], list[float]] = {}
    for kind, arg in steps:
        with engine.begin() as conn:
            if kind == "compact":
                compact_series(conn, tier, sids, T0 - T0 % 86400 + int(arg) * HOUR)  # type: ignore[call-overload]
                continue
            batch: dict[tuple[int, int], list[float]] = {}  # one flush holds one row per bucket
            for sidx, hour, a, b, n, s, last, offset in arg:  # type: ignore[attr-defined]
                key = (sids[sidx], T0 + hour * HOUR)
                cell = (min(a, b), max(a, b), n, s, last, key[1] * 1000 + offset)
                batch[key] = _merge_expected(batch.get(key), *cell)
                expected[key] = _merge_expected(expected.get(key), *cell)
            insert_rows(conn, head, tail, [(k[0], k[1], c[0], c[1], c[2], int(c[3]), c[4], int(c[5]))
                                           for k, c in sorted(batch.items())], ROLLUP_PG_TYPES)
    since, until = T0 + lo * HOUR, T0 + (lo + span) * HOUR
    with engine.connect() as conn:
        got = dict(read_rollups(conn, tier, sids, since, until))
    for sid in sids:
        want = sorted((b, *c[:5]) for (s, b), c in expected.items() if s == sid and since <= b < until)
        if not want:
            assert sid not in got
            continue
        r = got[sid]
        table = np.column_stack([r.ts, r.min, r.max, r.sum, r.count, r.last])
        want_table = np.array(want, dtype=np.float64)
        np.testing.assert_array_equal(table[:, [0, 1, 2, 4, 5]], want_table[:, [0, 1, 2, 4, 5]])
        np.testing.assert_allclose(table[:, 3], want_table[:, 3], rtol=1e-12, atol=1e-6)  # sums: order may differ


def _merge_rollup_sql_for(engine: Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        return _merge_rollup_sql(conn, "rollup_1h")
