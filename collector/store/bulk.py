"""Bulk writes that go straight to the driver, for the ingest hot path.

SQLAlchemy's per-row parameter processing would cost more than the database work itself at ingest
rates, so these helpers hand plain tuples to the DBAPI. SQLite gets ``executemany`` (sqlite3 runs
it in C). PostgreSQL gets one statement per chunk with each column passed as an array and turned
back into rows by ``unnest``: psycopg's ``executemany`` would pay a Python round of parameter
adaptation and protocol work per row instead. Each column's values must share one Python type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

PG_CHUNK_ROWS = 20_000


def placeholder(conn: Connection) -> str:
    """The driver's positional parameter marker (``?`` for sqlite3, ``%s`` for psycopg)."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise ValueError(f"unsupported DBAPI paramstyle {style!r} of dialect {conn.dialect.name}")


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def as_columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows transposed into one list per column (psycopg adapts lists, not tuples, to arrays)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(col) for col in zip(*rows, strict=True)]


def unnest_source(pg_types: Sequence[str]) -> str:
    """``unnest(%b::int4[], …)``: as many rows as the arrays are long.

    ``%b`` sends the arrays in PostgreSQL's binary format, which psycopg builds several times faster
    than the text form (no per-element quoting).
    """
    return "unnest(" + ", ".join(f"%b::{t}[]" for t in pg_types) + ")"


def insert_rows(conn: Connection, head: str, tail: str, rows: Sequence[Sequence[Any]],
                pg_types: Sequence[str]) -> None:
    """Run ``{head} <rows> {tail}`` for every row, e.g. an ``INSERT … ON CONFLICT`` upsert.

    ``head`` is the statement up to the source of the rows (``INSERT INTO t (a, b)``) and ``tail``
    the rest (``ON CONFLICT …``); ``pg_types`` names each column's PostgreSQL type. On PostgreSQL
    the rows must not repeat a conflict key within one call (ON CONFLICT DO UPDATE refuses to
    touch a row twice in one statement).
    """
    if not rows:
        return
    if is_postgresql(conn):
        sql = f"{head} SELECT * FROM {unnest_source(pg_types)} {tail}"
        for i in range(0, len(rows), PG_CHUNK_ROWS):
            conn.exec_driver_sql(sql, tuple(as_columns(rows[i:i + PG_CHUNK_ROWS], len(pg_types))))
        return
    mark = placeholder(conn)
    sql = f"{head} VALUES ({', '.join([mark] * len(pg_types))}) {tail}"
    conn.exec_driver_sql(sql, list(rows))  # type: ignore[arg-type]


def insert_columns(conn: Connection, head: str, tail: str, columns: Sequence[list[Any]],
                   pg_types: Sequence[str]) -> None:
    """:func:`insert_rows` for rows given as one list per column (all of one length)."""
    if not columns or not columns[0]:
        return
    if is_postgresql(conn):
        sql = f"{head} SELECT * FROM {unnest_source(pg_types)} {tail}"
        n = len(columns[0])
        for i in range(0, n, PG_CHUNK_ROWS):
            part = columns if n <= PG_CHUNK_ROWS else [c[i:i + PG_CHUNK_ROWS] for c in columns]
            conn.exec_driver_sql(sql, tuple(part))
        return
    mark = placeholder(conn)
    sql = f"{head} VALUES ({', '.join([mark] * len(pg_types))}) {tail}"
    conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))  # type: ignore[arg-type]


SQLITE_CHUNK_PARAMS = 30_000  # below SQLite's default limit of 32,766 parameters per statement


def insert_returning(conn: Connection, head: str, tail: str, returning: str, columns: Sequence[list[Any]],
                     pg_types: Sequence[str]) -> list[tuple[Any, ...]]:
    """:func:`insert_columns` with ``RETURNING {returning}``: the rows it returns, in no particular order.

    SQLite's ``executemany`` cannot return rows, so there the rows go in multi-row ``VALUES`` lists.
    """
    if not columns or not columns[0]:
        return []
    n = len(columns[0])
    out: list[tuple[Any, ...]] = []
    if is_postgresql(conn):
        sql = f"{head} SELECT * FROM {unnest_source(pg_types)} {tail} RETURNING {returning}"
        for i in range(0, n, PG_CHUNK_ROWS):
            part = columns if n <= PG_CHUNK_ROWS else [c[i:i + PG_CHUNK_ROWS] for c in columns]
            out += [tuple(r) for r in conn.exec_driver_sql(sql, tuple(part))]
        return out
    mark = placeholder(conn)
    row = "(" + ", ".join([mark] * len(pg_types)) + ")"
    step = SQLITE_CHUNK_PARAMS // len(pg_types)
    for i in range(0, n, step):
        part = [c[i:i + step] for c in columns]
        size = len(part[0])
        params = [v for r in zip(*part, strict=True) for v in r]
        sql = f"{head} VALUES {', '.join([row] * size)} {tail} RETURNING {returning}"
        out += [tuple(r) for r in conn.exec_driver_sql(sql, tuple(params))]
    return out


def raise_column(conn: Connection, table: str, column: str, key: str, values: dict[str, int]) -> None:
    """``UPDATE table SET column = v WHERE key = k AND column < v`` for every ``k: v`` (e.g. last-seen times)."""
    if not values:
        return
    if is_postgresql(conn):
        items = sorted(values.items())  # row locks in key order: concurrent collectors cannot deadlock
        conn.exec_driver_sql(
            f"UPDATE {table} SET {column} = v.val FROM {unnest_source(('text', 'int8'))} AS v(k, val) "
            f"WHERE {table}.{key} = v.k AND {table}.{column} < v.val",
            tuple(as_columns(items, 2)))
        return
    mark = placeholder(conn)
    conn.exec_driver_sql(f"UPDATE {table} SET {column} = {mark} WHERE {key} = {mark} AND {column} < {mark}",
                         [(v, k, v) for k, v in values.items()])  # type: ignore[arg-type]
