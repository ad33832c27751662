"""Alembic environment: runs the migrations on the connection it is given, or on ``sqlalchemy.url``.

``collector.store.migrate`` passes an open connection (``config.attributes["connection"]``) so a
migration joins the caller's transaction and its lock. SQLite gets batch mode: it cannot alter most
of a table in place, so a changed table is copied.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import Connection, create_engine, pool
from sqlalchemy.dialects.postgresql import JSONB

from collector.store.migrate import full_metadata, log

config = context.config
target_metadata = full_metadata()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection in config.attributes['connection'] or set sqlalchemy.url "
                           "(use `patrol-collector --config collector.yaml migrate`)")
    return url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Alembic renders JSONB as JSONB(astext_type=Text()) without importing Text; the default is the same.
    if type_ == "type" and isinstance(obj, JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB()"
    return False


def log_step(ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]) -> None:
    if config.attributes.get("scratch"):
        return
    direction = "upgrade" if step.is_upgrade else "downgrade"
    target = ",".join(step.destination_revision_ids) or "base"
    log.info("event=migration_applied direction=%s to=%s step=%r", direction, target,
             getattr(step.up_revision, "doc", ""))


def run_offline() -> None:
    url = _url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, compare_type=True,
                      render_as_batch=url.startswith("sqlite"), dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite", render_item=render_item,
                      on_version_apply=log_step)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
