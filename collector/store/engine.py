"""Opening the state store: engine creation, SQLite pragmas, schema creation."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from collector.store.schema import metadata

log = logging.getLogger("patrol.store")


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


def redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable url>"


def open_engine(url: str, create: bool = True) -> Engine:
    """Create an engine for ``url`` and (by default) the schema. SQLite runs in WAL mode."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"store url {redact_url(url)!r} is not a valid SQLAlchemy URL") from None
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if create:
            import collector.store.all_tables  # noqa: F401  (registers feature tables)

            metadata.create_all(engine)
    except OperationalError as e:
        raise StoreError(f"cannot open the state store {redact_url(url)}: {e.orig}") from None
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
