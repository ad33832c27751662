"""Schema migrations on SQLite and PostgreSQL: they build exactly the tables the code defines, go down
and up again, and the collector refuses a database that is behind, unknown, or pre-migration."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, inspect, select, text

from collector.main import main as collector_main
from collector.store.engine import StoreError, open_engine
from collector.store.migrate import (
    MIGRATIONS_DIR,
    describe_diff,
    ensure_schema,
    full_metadata,
    migrate,
    migration_sql,
    schema_diff,
    schema_state,
    script_directory,
)
from collector.store.schema import hosts, store_meta

REGENERATE = 'python -m collector.store.migrations revision "what changed"'


def patrol_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) & set(full_metadata().tables)


def head() -> str:
    (rev,) = script_directory().get_heads()
    return rev


def add_host(engine: Engine, host_id: str = "h1") -> None:
    with engine.begin() as conn:
        conn.execute(hosts.insert().values(id=host_id, customer_id="acme", hostname=host_id, source="agent",
                                           labels={"role": "db"}, facts={}, agent_version="", first_seen_ms=1,
                                           last_seen_ms=1, last_data_ms=0, connected=False))


def test_one_head_and_a_linear_history() -> None:
    script = script_directory()
    assert len(script.get_heads()) == 1, f"several migration heads {script.get_heads()}: merge them"
    assert script.get_base() is not None


def test_migrations_build_exactly_the_tables_in_the_code(store_url: str) -> None:
    result = migrate(store_url)
    assert result.action == "upgrade" and result.before == () and result.after == (head(),)
    engine = open_engine(store_url, create=False)
    with engine.connect() as conn:
        diff = schema_diff(conn)
    if engine.dialect.name == "sqlite":
        # Not compared by autogenerate: tables whose ids must never be reused keep AUTOINCREMENT.
        with engine.connect() as conn:
            ddl = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
        for table in full_metadata().tables.values():
            if table.kwargs.get("sqlite_autoincrement"):
                assert "AUTOINCREMENT" in ddl[table.name], f"{table.name} lost AUTOINCREMENT in the migrations"
    engine.dispose()
    lines = describe_diff(diff)
    assert not lines, ("the tables defined in the code differ from what the migrations build:\n  "
                       + "\n  ".join(lines) + f"\nwrite a migration: {REGENERATE}")


def test_a_new_database_is_created_at_head_like_the_migrations_would(store_url: str) -> None:
    engine = open_engine(store_url)
    with engine.connect() as conn:
        state = schema_state(conn)
        diff = schema_diff(conn)
    assert state.up_to_date and state.current == (head(),)
    assert describe_diff(diff) == []
    assert patrol_tables(engine) == set(full_metadata().tables)
    open_engine(store_url).dispose()  # a second start finds it current
    engine.dispose()


def test_downgrade_to_base_and_up_again(store_url: str) -> None:
    migrate(store_url)
    engine = open_engine(store_url)
    add_host(engine)
    down = migrate(store_url, "base")
    assert down.action == "downgrade" and down.after == ()
    assert patrol_tables(engine) == set()
    up = migrate(store_url, "head")
    assert up.action == "upgrade" and up.after == (head(),)
    with engine.connect() as conn:
        assert conn.execute(select(hosts.c.id)).all() == []
        assert schema_state(conn).up_to_date
    assert "hosts" in patrol_tables(engine)
    engine.dispose()


def _scripts_with_a_new_revision(tmp_path: Path) -> Path:
    """A copy of the migrations plus one revision on top, as a later Patrol version would ship."""
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "next_add_host_note.py").write_text(textwrap.dedent(f'''
        import sqlalchemy as sa
        from alembic import op

        revision = "0000000000aa"
        down_revision = "{head()}"
        branch_labels = None
        depends_on = None


        def upgrade() -> None:
            with op.batch_alter_table("hosts") as batch:
                batch.add_column(sa.Column("note", sa.Text(), nullable=True))


        def downgrade() -> None:
            with op.batch_alter_table("hosts") as batch:
                batch.drop_column("note")
        '''))
    return scripts


def test_a_database_behind_is_refused_until_migrated(store_url: str, tmp_path: Path) -> None:
    engine = open_engine(store_url)
    add_host(engine)
    newer = _scripts_with_a_new_revision(tmp_path)
    with pytest.raises(StoreError, match=r"needs 0000000000aa.*patrol-collector --config .* migrate"):
        ensure_schema(engine, newer)
    result = migrate(store_url, script_location=newer)
    assert (result.before, result.after, result.action) == ((head(),), ("0000000000aa",), "upgrade")
    ensure_schema(engine, newer)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, note FROM hosts")).all() == [("h1", None)]
    # Back down one step (SQLite copies the table to drop the column): the data stays.
    back = migrate(store_url, head(), script_location=newer)
    assert back.action == "downgrade" and back.after == (head(),)
    assert "note" not in {c["name"] for c in inspect(engine).get_columns("hosts")}
    with engine.connect() as conn:
        assert conn.execute(select(hosts.c.id, hosts.c.labels)).all() == [("h1", {"role": "db"})]
    engine.dispose()


def test_a_database_from_a_newer_version_is_refused(store_url: str) -> None:
    engine = open_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    engine.dispose()
    with pytest.raises(StoreError, match="ffffffffffff, which this version of Patrol does not know"):
        open_engine(store_url)
    with pytest.raises(StoreError, match="does not know"):
        migrate(store_url)


def test_a_pre_migration_database_is_adopted_by_migrate(store_url: str) -> None:
    # What Patrol did before it had migrations: the first revision's tables, without alembic_version.
    base = script_directory().get_base()
    assert base is not None
    migrate(store_url, base)
    engine = open_engine(store_url, create=False)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    add_host(engine)
    with pytest.raises(StoreError, match=r"no schema revision.*migrate"):
        open_engine(store_url)
    result = migrate(store_url)
    assert result.adopted and result.after == (head(),)
    open_engine(store_url).dispose()
    with engine.connect() as conn:
        assert conn.execute(select(hosts.c.id)).scalars().all() == ["h1"]
    engine.dispose()


def test_adoption_refuses_a_database_missing_tables(store_url: str) -> None:
    engine = open_engine(store_url, create=False)
    store_meta.create(engine)
    hosts.create(engine)
    engine.dispose()
    with pytest.raises(StoreError, match=r"lacks .*ingest_log"):
        migrate(store_url)


def test_patrol_collector_migrate_command(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "collector.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "insecure": True,
                                      "store": {"url": store_url}, "log_level": "WARNING"}))
    assert collector_main(["--config", str(config), "migrate"]) == 0
    assert f"upgraded from empty to {head()}" in capsys.readouterr().out
    assert collector_main(["--config", str(config), "migrate"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert collector_main(["--config", str(config), "migrate", "--revision", "base"]) == 0
    assert f"downgraded from {head()} to base" in capsys.readouterr().out
    assert collector_main(["--config", str(config), "migrate", "--revision", "no-such-rev"]) == 1
    assert "no-such-rev" in capsys.readouterr().err
    assert collector_main(["--config", str(config), "migrate", "--sql"]) == 0
    sql = capsys.readouterr().out
    assert "CREATE TABLE ingest_log" in sql and f"'{head()}'" in sql


def test_sql_is_written_in_each_dialect() -> None:
    import io

    pg, lite = io.StringIO(), io.StringIO()
    migration_sql("postgresql+psycopg://nobody@127.0.0.1:1/none", output=pg)
    migration_sql("sqlite:///never-opened.sqlite", output=lite)
    assert "id BIGSERIAL NOT NULL" in pg.getvalue() and "labels JSONB NOT NULL" in pg.getvalue()
    assert "JSONB" not in lite.getvalue() and "id INTEGER NOT NULL" in lite.getvalue()
    assert not Path("never-opened.sqlite").exists()


def test_the_collector_refuses_to_start_on_a_database_it_does_not_match(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = open_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    engine.dispose()
    config = tmp_path / "collector.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "insecure": True, "listen": "127.0.0.1:0",
                                      "api": {"listen": "127.0.0.1:0"}, "store": {"url": store_url},
                                      "log_level": "WARNING"}))
    assert collector_main(["--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "schema revision ffffffffffff" in err and "patrol-collector" in err
