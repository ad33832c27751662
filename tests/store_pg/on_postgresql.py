"""A pytest plugin that runs store tests written for SQLite on PostgreSQL instead.

    .venv/bin/python -m pytest -p tests.store_pg.on_postgresql tests/tickets tests/notify

(``python -m`` puts the repository on sys.path before plugins load.) Every
``open_engine("sqlite:///<file>")`` made in the test process opens a PostgreSQL schema instead: one
per SQLite file path, so a test that reopens "the same file" reopens the same schema. The schemas
live in one database of a throwaway server, discarded at exit. Tests that read the SQLite file
directly, or start collector processes, are not redirected. The plugin must load before the test
modules are imported (``-p``), because they import ``open_engine`` by name.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

import collector.store.engine as engine_module
from tests.store_pg.fixtures import postgres_or_skip

_original_open_engine = engine_module.open_engine
_schemas: dict[str, str] = {}  # SQLite file -> URL of its schema
_counter = itertools.count(1)
_database: list[str] = []


def _new_schema() -> str:
    server = postgres_or_skip()
    if not _database:
        _database.append(server.create_database("redirected"))
    name = f"s{next(_counter)}"
    dbname = _database[0].rsplit("/", 1)[1]
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")  # type: ignore[arg-type]
    # Schemas are cheap where databases cost megabytes each: a test run makes hundreds.
    return f"{_database[0]}?options=-csearch_path%3D{name}"


def open_engine_on_postgresql(url: str, create: bool = True) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return _original_open_engine(url, create)  # let the real one report the bad URL
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        key = str(Path(str(parsed.database)).resolve())
        if key not in _schemas:
            _schemas[key] = _new_schema()
        url = _schemas[key]
    return _original_open_engine(url, create)


engine_module.open_engine = open_engine_on_postgresql
