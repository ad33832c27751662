"""Numeric columns written straight into PostgreSQL's binary array format read back as sent, and
the bulk helpers take numpy columns on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from collector.store.bulk import copy_columns, copy_rows, insert_columns, merge_columns, pg_array
from collector.store.engine import open_engine
from collector.store.rollup import ROLLUP_COLUMNS, ROLLUP_PG_TYPES, _merge_rollup_sql

INT4 = st.integers(-2**31, 2**31 - 1)
INT8 = st.integers(-2**63, 2**63 - 1)
FLOAT8 = st.floats(allow_nan=True, allow_infinity=True)


@pytest.fixture(scope="module")
def pg_engine(postgres_server) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    with postgres_server.database() as url:
        engine = open_engine(url)
        yield engine
        engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(int4=st.lists(INT4, max_size=50), int8=st.lists(INT8, max_size=50), float8=st.lists(FLOAT8, max_size=50))
def test_binary_arrays_read_back_as_sent(pg_engine: Engine, int4: list[int], int8: list[int],
                                         float8: list[float]) -> None:
    with pg_engine.connect() as conn:
        got = conn.exec_driver_sql("SELECT %b::int4[], %b::int8[], %b::float8[]", (
            pg_array(np.array(int4, dtype=np.int64), "int4"), pg_array(np.array(int8, dtype=np.int64), "int8"),
            pg_array(np.array(float8, dtype=np.float64), "float8"))).one()
    assert got[0] == int4 and got[1] == int8
    back, sent = np.array(got[2], dtype=np.float64), np.array(float8, dtype=np.float64)
    assert (np.isnan(back) == np.isnan(sent)).all()
    # Bit for bit (the sign of a zero too); PostgreSQL keeps one NaN of its own.
    assert back[~np.isnan(back)].tobytes() == sent[~np.isnan(sent)].tobytes()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(INT8, FLOAT8), max_size=60))
def test_binary_copy_rows_read_back_as_sent(pg_engine: Engine, rows: list[tuple[int, float]]) -> None:
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE copied (at int4, big int8, x float8) ON COMMIT DROP")
        copy_columns(conn, "copied", ("at", "big", "x"),
                     [np.arange(len(rows)), np.array([r[0] for r in rows], dtype=np.int64),
                      np.array([r[1] for r in rows], dtype=np.float64)], ("int4", "int8", "float8"))
        got = conn.exec_driver_sql("SELECT at, big, x FROM copied ORDER BY at").all()
    assert [g[0] for g in got] == list(range(len(rows)))
    assert [g[1] for g in got] == [r[0] for r in rows]
    assert [g[2] for g in got] == pytest.approx([r[1] for r in rows], nan_ok=True, rel=0, abs=0)


def test_an_int4_column_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="int4's range"):
        pg_array(np.array([1, 2**31]), "int4")
    with pytest.raises(ValueError, match="int4's range"):
        copy_rows([np.array([-2**31 - 1])], ["int4"])


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    engine = open_engine(store_url)
    yield engine
    engine.dispose()


def rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT series_id, bucket, min, max, sum, count, last, last_ts_ms FROM rollup_1m "
            "ORDER BY series_id, bucket"))]


def cells(sid: list[int], value: float, count: int, ts: int) -> list[np.ndarray]:
    n = len(sid)
    return [np.array(sid), np.full(n, 60), np.full(n, value), np.full(n, value), np.full(n, value * count),
            np.full(n, count), np.full(n, value), np.full(n, ts)]


def test_rows_taken_for_new_that_exist_are_merged_all_the_same(store: Engine) -> None:
    with store.begin() as conn:
        head, tail = _merge_rollup_sql(conn, "rollup_1m")
        insert_columns(conn, head, tail, cells([1, 2], 5.0, 2, 60_500), ROLLUP_PG_TYPES)
    merge = partial(merge_columns, table="rollup_1m", names=ROLLUP_COLUMNS, tail=tail, pg_types=ROLLUP_PG_TYPES)
    with store.begin() as conn:
        # Series 1 and 2 exist, 3 does not: all three taken for new; 4 (new too) merged.
        merge(conn, columns=cells([1, 2, 3, 4], 1.0, 1, 61_000), new=np.array([True, True, True, False]))
    assert rows(store) == [(1, 60, 1.0, 5.0, 11.0, 3, 1.0, 61_000), (2, 60, 1.0, 5.0, 11.0, 3, 1.0, 61_000),
                           (3, 60, 1.0, 1.0, 1.0, 1, 1.0, 61_000), (4, 60, 1.0, 1.0, 1.0, 1, 1.0, 61_000)]
    with store.begin() as conn:  # rows rightly taken for new are inserted, the others merged
        merge(conn, columns=cells([4, 5], 9.0, 1, 59_000), new=np.array([False, True]))
    assert rows(store)[3:] == [(4, 60, 1.0, 9.0, 10.0, 2, 1.0, 61_000), (5, 60, 9.0, 9.0, 9.0, 1, 9.0, 59_000)]
