"""Bulk writes that go straight to the driver, for the ingest hot path.

SQLAlchemy's per-row parameter processing would cost more than the database work itself at ingest
rates, so these helpers hand plain tuples to the DBAPI. SQLite gets ``executemany`` (sqlite3 runs
it in C). PostgreSQL gets one statement per chunk with each column passed as an array and turned
back into rows by ``unnest``: psycopg's ``executemany`` would pay a Python round of parameter
adaptation and protocol work per row instead. Each column's values must share one Python type.

A column may also be a numpy array. For PostgreSQL, one of a numeric type (``int4``, ``int8``,
``float8``) is written straight into PostgreSQL's binary array format by numpy (:func:`pg_array`),
which costs a few nanoseconds per value where psycopg's own list adaptation costs a third of a
microsecond.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

PG_CHUNK_ROWS = 20_000

Column = Sequence[Any] | NDArray[Any]


class PgArray:
    """A one-dimensional PostgreSQL array without NULLs, already in the binary wire format."""

    __slots__ = ("data",)
    oid = 0

    def __init__(self, data: bytes) -> None:
        self.data = data


class Int4Array(PgArray):
    oid = 1007  # int4[]


class Int8Array(PgArray):
    oid = 1016  # int8[]


class Float8Array(PgArray):
    oid = 1022  # float8[]


# Array type, its element's oid, and the element's big-endian layout with its length word.
_PG_ARRAYS: dict[str, tuple[type[PgArray], int, np.dtype[Any]]] = {
    "int4": (Int4Array, 23, np.dtype([("size", ">i4"), ("value", ">i4")])),
    "int8": (Int8Array, 20, np.dtype([("size", ">i4"), ("value", ">i8")])),
    "float8": (Float8Array, 701, np.dtype([("size", ">i4"), ("value", ">f8")])),
}


def _in_range(values: NDArray[Any], pg_type: str) -> NDArray[Any]:
    if pg_type == "int4" and len(values) and (values.min() < -2**31 or values.max() >= 2**31):
        raise ValueError(f"a value out of int4's range in a column of {len(values)}")
    return values


def pg_array(values: NDArray[Any], pg_type: str) -> PgArray:
    """``values`` as a binary PostgreSQL array of ``pg_type`` (``int4``, ``int8`` or ``float8``).

    The format is ``array_send``'s: dimensions, a no-NULLs flag, the element type, the length and
    lower bound of the one dimension, then each element as its byte length and big-endian value.
    """
    cls, elem_oid, layout = _PG_ARRAYS[pg_type]
    if not len(values):
        return cls(struct.pack(">iii", 0, 0, elem_oid))  # no dimensions: the empty array
    body = np.empty(len(values), dtype=layout)
    body["size"] = layout["value"].itemsize
    body["value"] = _in_range(values, pg_type)
    return cls(struct.pack(">iiiii", 1, 0, elem_oid, len(values), 1) + body.tobytes())


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, no flags, no extension
COPY_TRAILER = struct.pack(">h", -1)


def copy_rows(columns: Sequence[NDArray[Any]], pg_types: Sequence[str]) -> bytes:
    """Numeric columns as the rows of a binary ``COPY … FROM STDIN``: per row, its field count, then
    each field's byte length and big-endian value (PostgreSQL's binary COPY format, without header)."""
    fields: list[tuple[str, Any]] = [("fields", ">i2")]
    for i, t in enumerate(pg_types):
        fields += [(f"size{i}", ">i4"), (f"value{i}", _PG_ARRAYS[t][2]["value"])]
    rows = np.empty(len(columns[0]), dtype=fields)
    rows["fields"] = len(pg_types)
    for i, (values, t) in enumerate(zip(columns, pg_types, strict=True)):
        rows[f"size{i}"] = _PG_ARRAYS[t][2]["value"].itemsize
        rows[f"value{i}"] = _in_range(values, t)
    return rows.tobytes()


def copy_columns(conn: Connection, table: str, names: Sequence[str], columns: Sequence[NDArray[Any]],
                 pg_types: Sequence[str]) -> None:
    """Append numeric columns to a PostgreSQL table with one binary ``COPY``.

    COPY inserts rows into the table a page at a time, with one WAL record per page where
    ``INSERT … SELECT`` writes one per row: a quarter less of the server's CPU per rollup row.
    """
    if not len(columns[0]):
        return
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection), "binary COPY needs psycopg"
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(COPY_HEADER)
        for i in range(0, len(columns[0]), PG_CHUNK_ROWS):
            copy.write(copy_rows([c[i:i + PG_CHUNK_ROWS] for c in columns], pg_types))
        copy.write(COPY_TRAILER)


def _register_dumpers() -> None:
    for cls, _, _ in _PG_ARRAYS.values():
        dumper = type(f"{cls.__name__}Dumper", (Dumper,), {
            "format": Format.BINARY, "oid": cls.oid, "dump": lambda self, obj: obj.data})
        psycopg.adapters.register_dumper(cls, dumper)


_register_dumpers()


def _pg_column(values: Column, pg_type: str) -> Any:
    """A column as psycopg gets it: numeric numpy arrays ready-made, anything else as a list."""
    if isinstance(values, np.ndarray):
        return pg_array(values, pg_type) if pg_type in _PG_ARRAYS else values.tolist()
    return values if isinstance(values, list) else list(values)


def _as_lists(columns: Sequence[Column]) -> list[Sequence[Any]]:
    return [c.tolist() if isinstance(c, np.ndarray) else c for c in columns]


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
        for params in _pg_chunks(as_columns(rows, len(pg_types)), pg_types):
            conn.exec_driver_sql(sql, params)
        return
    mark = placeholder(conn)
    sql = f"{head} VALUES ({', '.join([mark] * len(pg_types))}) {tail}"
    conn.exec_driver_sql(sql, list(rows))  # type: ignore[arg-type]


def _pg_chunks(columns: Sequence[Column], pg_types: Sequence[str]) -> list[tuple[Any, ...]]:
    """The parameters of each PostgreSQL statement: columns cut into chunks of ``PG_CHUNK_ROWS``."""
    n = len(columns[0])
    return [tuple(_pg_column(c[i:i + PG_CHUNK_ROWS] if n > PG_CHUNK_ROWS else c, t)
                  for c, t in zip(columns, pg_types, strict=True))
            for i in range(0, n, PG_CHUNK_ROWS)]


def insert_columns(conn: Connection, head: str, tail: str, columns: Sequence[Column],
                   pg_types: Sequence[str]) -> None:
    """:func:`insert_rows` for rows given as one list or numpy array per column (all of one length)."""
    if not columns or not len(columns[0]):
        return
    if is_postgresql(conn):
        sql = f"{head} SELECT * FROM {unnest_source(pg_types)} {tail}"
        for params in _pg_chunks(columns, pg_types):
            conn.exec_driver_sql(sql, params)
        return
    mark = placeholder(conn)
    sql = f"{head} VALUES ({', '.join([mark] * len(pg_types))}) {tail}"
    conn.exec_driver_sql(sql, list(zip(*_as_lists(columns), strict=True)))  # type: ignore[arg-type]


def merge_columns(conn: Connection, table: str, names: Sequence[str], tail: str, columns: Sequence[NDArray[Any]],
                  pg_types: Sequence[str], new: NDArray[np.bool_]) -> None:
    """An upsert of numeric columns into ``table`` (``tail``: its ``ON CONFLICT`` clause), where the
    rows marked ``new`` are expected not to exist yet.

    On PostgreSQL those are appended with :func:`copy_columns`, in a savepoint: an ``ON CONFLICT``
    insert of a new row costs the server about half as much again (its speculative insertion), and
    COPY's bulk path saves a quarter more. Should one of them exist after all (written by another
    collector, or before a restart), the savepoint is rolled back and they are merged with the
    others. The new rows and the others are two runs in key order: two collectors can only meet
    there on the same series and minute (a host that moved between them mid-minute), and a deadlock
    PostgreSQL detects fails that flush, which is folded again. SQLite's upsert of a new row costs
    what its insert does.
    """
    rest = np.ones(len(new), dtype=bool)
    if is_postgresql(conn) and new.any():
        try:
            with conn.begin_nested():
                copy_columns(conn, table, names, [c[new] for c in columns], pg_types)
            rest = ~new
        except (IntegrityError, psycopg.errors.UniqueViolation):
            pass
    head = f"INSERT INTO {table} ({', '.join(names)})"
    if rest.all():
        insert_columns(conn, head, tail, columns, pg_types)
    elif rest.any():
        insert_columns(conn, head, tail, [c[rest] for c in columns], pg_types)


SQLITE_CHUNK_PARAMS = 30_000  # below SQLite's default limit of 32,766 parameters per statement


def insert_returning(conn: Connection, head: str, tail: str, returning: str, columns: Sequence[Column],
                     pg_types: Sequence[str]) -> list[tuple[Any, ...]]:
    """:func:`insert_columns` with ``RETURNING {returning}``: the rows it returns, in no particular order.

    SQLite's ``executemany`` cannot return rows, so there the rows go in multi-row ``VALUES`` lists.
    """
    if not columns or not len(columns[0]):
        return []
    n = len(columns[0])
    out: list[tuple[Any, ...]] = []
    if is_postgresql(conn):
        sql = f"{head} SELECT * FROM {unnest_source(pg_types)} {tail} RETURNING {returning}"
        for params in _pg_chunks(columns, pg_types):
            out += [tuple(r) for r in conn.exec_driver_sql(sql, params)]
        return out
    lists = _as_lists(columns)
    mark = placeholder(conn)
    row = "(" + ", ".join([mark] * len(pg_types)) + ")"
    step = SQLITE_CHUNK_PARAMS // len(pg_types)
    for i in range(0, n, step):
        part = [c[i:i + step] for c in lists]
        size = len(part[0])
        flat = [v for r in zip(*part, strict=True) for v in r]
        sql = f"{head} VALUES {', '.join([row] * size)} {tail} RETURNING {returning}"
        out += [tuple(r) for r in conn.exec_driver_sql(sql, tuple(flat))]
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
