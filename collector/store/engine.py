"""Opening the state store: engine creation, SQLite pragmas, PostgreSQL pool, schema version check."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

log = logging.getLogger("patrol.store")

# Pool options accepted as query parameters of a PostgreSQL URL (they are not libpq options, so they
# are taken off the URL before it reaches the driver).
POOL_OPTIONS = {"pool_size": int, "max_overflow": int, "pool_timeout": float, "pool_recycle": int}
# The ingest writer holds one connection; the HTTP API's sync endpoints (a thread pool) and the
# feature services share the rest. Several collectors share one server, so stay well under its
# default max_connections (100) per collector.
POOL_DEFAULTS: dict[str, Any] = {"pool_size": 10, "max_overflow": 10, "pool_timeout": 30.0, "pool_recycle": 1800}


class StoreError(Exception):
    """The state store cannot be opened or used. The message names the database and what to do."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives power loss, not just a process crash. Commits are grouped, so the
    # fsync cost is paid once per group, not once per batch.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=OFF")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def redact_url(url: str | URL) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable url>"


def _engine_options(parsed: URL) -> tuple[URL, dict[str, Any]]:
    kwargs: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        return parsed, kwargs
    kwargs["pool_pre_ping"] = True
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            # The driver Patrol ships is psycopg 3; SQLAlchemy's default for a bare URL is psycopg2.
            parsed = parsed.set(drivername="postgresql+psycopg")
        pool = dict(POOL_DEFAULTS)
        for key, conv in POOL_OPTIONS.items():
            if key in parsed.query:
                raw = parsed.query[key]
                try:
                    pool[key] = conv(raw if isinstance(raw, str) else raw[-1])
                except ValueError:
                    raise StoreError(f"store url {redact_url(parsed)!r}: {key} must be a number") from None
        parsed = parsed.difference_update_query(list(POOL_OPTIONS))
        kwargs |= pool
        connect_args: dict[str, Any] = {}
        if "application_name" not in parsed.query:
            connect_args["application_name"] = "patrol-collector"
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = 10  # fail with a clear error instead of hanging
        kwargs["connect_args"] = connect_args
    return parsed, kwargs


def open_engine(url: str, create: bool = True) -> Engine:
    """Create an engine for ``url``; by default also create or check the schema.

    SQLite runs in WAL mode. ``postgresql://`` URLs use psycopg 3. With ``create``, a brand-new
    empty database gets the current schema, stamped with the newest migration; a database whose
    schema is older than this code is refused with a :class:`StoreError` that says to run
    ``patrol-collector migrate`` (see :mod:`collector.store.migrate`).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"store url {redact_url(url)!r} is not a valid SQLAlchemy URL") from None
    parsed, kwargs = _engine_options(parsed)
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as e:
        raise StoreError(f"store url {redact_url(parsed)!r}: no database driver for it ({e}); "
                         "use sqlite:///path or postgresql+psycopg://user@host/db") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if create:
            from collector.store.migrate import ensure_schema

            ensure_schema(engine)
    except OperationalError as e:
        engine.dispose()
        raise StoreError(f"cannot open the state store {redact_url(parsed)}: {e.orig}") from None
    except StoreError:
        engine.dispose()
        raise
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
