"""Schema versions of the state store: Alembic migrations, the start-up check and ``patrol-collector migrate``.

The migration scripts live in ``collector/store/migrations/versions``. A database is at a revision
(the ``alembic_version`` table); the code needs the newest one ("head"). On start the collector
creates the schema of a brand-new empty database itself (the tables of the current metadata,
stamped at head: the same result as running every migration, which a test keeps true), and refuses
any other database that is not at head. ``patrol-collector migrate`` upgrades (or, given an older
``--revision``, downgrades) a database, and adopts one created before migrations existed.
"""

from __future__ import annotations

import argparse
import functools
import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text

from collector.store.engine import StoreError, open_engine, redact_url
from collector.store.schema import metadata

log = logging.getLogger("patrol.store")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: collectors starting together on one PostgreSQL create or migrate the
# schema one at a time.
SCHEMA_LOCK_KEY = 0x7061_7472_6F6C_5343  # "patrolSC"
MIGRATE_HINT = "patrol-collector --config <collector.yaml> migrate"


def full_metadata() -> MetaData:
    """The shared metadata with every feature's tables registered."""
    import collector.store.all_tables  # noqa: F401

    return metadata


def alembic_config(url: str | None = None, connection: Connection | None = None,
                   script_location: Path = MIGRATIONS_DIR, output: TextIO | None = None) -> Config:
    cfg = Config(output_buffer=output or sys.stdout)
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.set_main_option("timezone", "UTC")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _script(script_location: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(script_location=script_location))


def script_directory(script_location: Path = MIGRATIONS_DIR) -> ScriptDirectory:
    return _script(Path(script_location).resolve())


@dataclass(frozen=True)
class SchemaState:
    current: tuple[str, ...]  # the database's revision(s); () for none
    heads: tuple[str, ...]  # what this code needs
    tables: frozenset[str]  # Patrol tables present in the database
    unknown: tuple[str, ...]  # revisions of the database that this code does not have

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.heads)

    @property
    def empty(self) -> bool:
        return not self.current and not self.tables


def schema_state(conn: Connection, script_location: Path = MIGRATIONS_DIR) -> SchemaState:
    script = script_directory(script_location)
    current = tuple(MigrationContext.configure(conn).get_current_heads())
    known = {r.revision for r in script.walk_revisions()}
    present = set(inspect(conn).get_table_names()) & set(full_metadata().tables)
    return SchemaState(current=current, heads=tuple(script.get_heads()), tables=frozenset(present),
                       unknown=tuple(r for r in current if r not in known))


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for reading and changing the schema, holding the schema lock until it ends.

    PostgreSQL: DDL is transactional; an advisory lock serializes collectors starting together.
    SQLite: the driver runs DDL outside any transaction unless one is open, so a failed migration would
    leave half a schema; BEGIN IMMEDIATE opens one (and takes the write lock) first.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _where(conn: Connection) -> str:
    return redact_url(conn.engine.url)


def ensure_schema(engine: Engine, script_location: Path = MIGRATIONS_DIR) -> None:
    """Create the schema of an empty database; refuse a database whose schema is not at head."""
    with engine.connect() as conn:
        if schema_state(conn, script_location).up_to_date:
            return  # the usual case, without taking the schema lock
    with schema_transaction(engine) as conn:
        state = schema_state(conn, script_location)
        if state.up_to_date:
            return  # another collector created it meanwhile
        where = _where(conn)
        if state.empty:
            full_metadata().create_all(conn)
            MigrationContext.configure(conn).stamp(script_directory(script_location), "heads")
            log.info("event=schema_created store=%s revision=%s", where, ",".join(state.heads))
            return
        if state.unknown:
            raise StoreError(
                f"the state store {where} is at schema revision {', '.join(state.unknown)}, which this version "
                "of Patrol does not know: a newer Patrol has migrated it. Run the newer version, or downgrade "
                f"the database with the newer version's `{MIGRATE_HINT} --revision {','.join(state.heads)}`")
        if not state.current:
            raise StoreError(
                f"the state store {where} has Patrol tables but no schema revision (it was created before "
                f"migrations existed). Back it up, then run `{MIGRATE_HINT}` to adopt and upgrade it")
        raise StoreError(
            f"the state store {where} is at schema revision {', '.join(state.current)}, but this collector "
            f"needs {', '.join(state.heads)}. Back the database up, then run `{MIGRATE_HINT}`")


# ---------------------------------------------------------------------- migrate command


@dataclass(frozen=True)
class MigrationResult:
    before: tuple[str, ...]
    after: tuple[str, ...]
    action: str  # "upgrade", "downgrade", "none"
    adopted: bool = False


def _baseline_tables(script_location: Path) -> set[str]:
    """The tables the first revision creates, found by running it on a scratch in-memory SQLite."""
    script = script_directory(script_location)
    base = script.get_base()
    assert base is not None, "no migration scripts"
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as conn:
            cfg = alembic_config(connection=conn, script_location=script_location, output=io.StringIO())
            cfg.attributes["scratch"] = True  # not the operator's database: env.py does not log its steps
            command.upgrade(cfg, base)
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        scratch.dispose()


def _adopt(conn: Connection, state: SchemaState, script_location: Path) -> None:
    """Stamp a database made by a pre-migration Patrol (``create_all``) at the first revision."""
    expected = _baseline_tables(script_location)
    missing = sorted(expected - state.tables)
    if missing:
        raise StoreError(
            f"the state store {_where(conn)} has some Patrol tables but no schema revision, and lacks "
            f"{', '.join(missing)}: it is not a database this version can adopt. Restore it from a backup "
            "or point store.url at an empty database")
    base = script_directory(script_location).get_base()
    assert base is not None
    MigrationContext.configure(conn).stamp(script_directory(script_location), base)
    log.info("event=schema_adopted store=%s revision=%s", _where(conn), base)


def _is_downgrade(script: ScriptDirectory, current: tuple[str, ...], target: str) -> bool:
    if target == "base":
        return bool(current)
    if target.startswith("-"):
        return True  # relative: "-1" is one step down
    if target in ("head", "heads") or target.startswith("+") or not current:
        return False
    try:
        rev = script.get_revision(target)
    except CommandError as e:
        raise StoreError(f"unknown schema revision {target!r}: {e}") from None
    if rev is None:
        return False
    below = {r.revision for head in current for r in script.iterate_revisions(head, "base")}
    return rev.revision in below and rev.revision not in current


@contextmanager
def _engine_for(url: str) -> Iterator[Engine]:
    engine = open_engine(url, create=False)
    try:
        yield engine
    finally:
        engine.dispose()


def migrate(url: str, revision: str = "head", script_location: Path = MIGRATIONS_DIR,
            output: TextIO | None = None) -> MigrationResult:
    """Bring the database at ``url`` to ``revision`` (upgrade or downgrade, in one transaction where
    the database supports transactional DDL)."""
    script = script_directory(script_location)
    out = output or io.StringIO()
    with _engine_for(url) as engine, schema_transaction(engine) as conn:
        state = schema_state(conn, script_location)
        if state.unknown:
            raise StoreError(f"the state store {_where(conn)} is at schema revision {', '.join(state.unknown)}, "
                             "which this version of Patrol does not know; migrate it with the newer version")
        adopted = False
        if not state.current and state.tables:
            _adopt(conn, state, script_location)
            adopted = True
        before = tuple(MigrationContext.configure(conn).get_current_heads())
        cfg = alembic_config(connection=conn, script_location=script_location, output=out)
        down = _is_downgrade(script, before, revision)
        try:
            if down:
                command.downgrade(cfg, revision)
            else:
                command.upgrade(cfg, revision)
        except CommandError as e:
            raise StoreError(f"cannot migrate the state store {_where(conn)} to {revision!r}: {e}") from None
        after = tuple(MigrationContext.configure(conn).get_current_heads())
    action = "none" if set(before) == set(after) else ("downgrade" if down else "upgrade")
    return MigrationResult(before=before, after=after, action=action, adopted=adopted)


def migration_sql(url: str, revision: str = "head", output: TextIO | None = None,
                  script_location: Path = MIGRATIONS_DIR) -> None:
    """Write the SQL of the migrations up to ``revision`` (``from:to`` for a range) for a DBA to run.

    Offline: nothing connects to the database; the URL only selects the SQL dialect.
    """
    try:
        command.upgrade(alembic_config(url=url, script_location=script_location, output=output or sys.stdout),
                        revision, sql=True)
    except CommandError as e:
        raise StoreError(f"cannot write the migration SQL for {revision!r}: {e}") from None


def schema_diff(conn: Connection, strict: bool = True) -> list[Any]:
    """What differs between the database and the metadata (Alembic autogenerate); [] when they agree.

    ``strict=False`` ignores tables that the metadata does not know (another program's, e.g. a job
    store), for comparing a live database rather than one built from the migrations.
    """
    md = full_metadata()

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return strict or type_ != "table" or name in md.tables

    ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name,
                                                 "render_as_batch": conn.dialect.name == "sqlite"})
    return list(compare_metadata(ctx, md))


def describe_diff(diff: list[Any]) -> list[str]:
    """One line per difference found by :func:`schema_diff`, e.g. ``add_table audit_log``."""
    lines: list[str] = []
    for item in diff:
        if isinstance(item, list):  # changes to one column come grouped
            for kind, _schema, table, column, _existing, old, new in item:
                lines.append(f"{kind} {table}.{column}: {old!r} -> {new!r}")
            continue
        kind, obj = item[0], item[-1]
        table = getattr(getattr(obj, "table", None), "name", None)
        name = getattr(obj, "name", None) or repr(obj)
        lines.append(f"{kind} {table}.{name}" if table and table != name else f"{kind} {name}")
    return lines


def main(url: str, argv: list[str], out: TextIO | None = None) -> int:
    """``patrol-collector --config collector.yaml migrate [--revision REV] [--sql]``; returns the exit code."""
    out = out or sys.stdout
    ap = argparse.ArgumentParser(prog="patrol-collector migrate",
                                 description="Bring the state store's schema to a revision (default: the newest).")
    ap.add_argument("--revision", default="head",
                    help="target revision: head (default), an id, base, or -1 / +1; an older one downgrades")
    ap.add_argument("--sql", action="store_true",
                    help="print the SQL from an empty database to --revision (FROM:TO for a range) instead of "
                         "running it; nothing connects to the database")
    args = ap.parse_args(argv)
    try:
        if args.sql:
            migration_sql(url, args.revision, output=out)
            return 0
        result = migrate(url, args.revision)
    except StoreError as e:
        print(f"patrol-collector: {e}", file=sys.stderr)
        return 1
    where = redact_url(url)
    before = ",".join(result.before) or "empty"
    after = ",".join(result.after) or "base (no Patrol tables)"
    if result.adopted:
        print(f"{where}: adopted a database created before migrations, as revision {before}", file=out)
    if result.action == "none":
        print(f"{where}: already at revision {after}; nothing to do", file=out)
    else:
        print(f"{where}: {result.action}d from {before} to {after}", file=out)
    return 0
