"""PostgreSQL specifics of the state store: URLs, pool options, column types, clear errors and
collectors starting together on one empty database."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, insert, text

from collector.localrun import free_port
from collector.store.engine import StoreError, open_engine
from collector.store.migrate import migrate, schema_state
from collector.store.schema import PG_LZ4_AVAILABLE, ingest_log
from tests.store_pg.server import PostgresServer


def column_types(engine: Engine, table: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = :t"), {"t": table}).all()
    return {name: data_type for name, data_type in rows}


def test_growing_ids_are_64_bit_and_documents_are_jsonb(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    assert column_types(engine, "ingest_log")["id"] == "bigint"
    assert column_types(engine, "events")["id"] == "bigint"
    assert column_types(engine, "events")["fields"] == "jsonb"
    assert column_types(engine, "hosts")["labels"] == "jsonb"
    assert column_types(engine, "ingest_log")["payload"] == "bytea"
    with engine.begin() as conn:  # jsonb compares by value, so labels can be grouped and matched
        conn.execute(text("INSERT INTO hosts (id, customer_id, hostname, source, labels, facts, agent_version, "
                          "first_seen_ms, last_seen_ms, last_data_ms, connected) VALUES "
                          "('a', 'c', 'a', 'agent', '{\"x\": 1, \"y\": 2}', '{}', '', 0, 0, 0, false), "
                          "('b', 'c', 'b', 'agent', '{\"y\": 2, \"x\": 1}', '{}', '', 0, 0, 0, false)"))
        assert conn.execute(text("SELECT COUNT(DISTINCT labels) FROM hosts")).scalar() == 1
    engine.dispose()


def test_bare_postgresql_url_uses_psycopg_and_pool_options_come_from_the_url(postgres_url: str) -> None:
    bare = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    engine = open_engine(bare + "?pool_size=3&max_overflow=2&application_name=patrol-test")
    assert engine.dialect.driver == "psycopg"
    assert engine.pool.size() == 3  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(text("SHOW application_name")).scalar() == "patrol-test"
    engine.dispose()
    default = open_engine(postgres_url)
    with default.connect() as conn:
        assert conn.execute(text("SHOW application_name")).scalar() == "patrol-collector"
    default.dispose()
    with pytest.raises(StoreError, match="pool_size must be a number"):
        open_engine(postgres_url + "?pool_size=many")


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    url = f"postgresql+psycopg://patrol:s3cret@127.0.0.1:{free_port()}/patrol"
    with pytest.raises(StoreError, match=r"cannot open the state store postgresql\+psycopg://patrol:\*\*\*@") as e:
        open_engine(url)
    assert "s3cret" not in str(e.value)


def test_a_missing_driver_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="no database driver"):
        open_engine("postgresql+nosuchdriver://u@127.0.0.1/db")


def test_collectors_starting_together_create_the_schema_once(postgres_server: PostgresServer) -> None:
    with postgres_server.database() as url:
        errors: list[BaseException] = []
        engines: list[Engine] = []
        start = threading.Barrier(4)

        def open_one() -> None:
            start.wait()
            try:
                engines.append(open_engine(url))
            except BaseException as e:  # collected and asserted below
                errors.append(e)

        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with engines[0].connect() as conn:
            assert schema_state(conn).up_to_date
            assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
        for engine in engines:
            engine.dispose()


def payload_compression(engine: Engine) -> str:
    """The ingest log payload's compression method: ``l`` lz4, ``p`` pglz, empty for the server's default."""
    with engine.connect() as conn:
        return str(conn.execute(text(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'ingest_log'::regclass AND attname = 'payload'"
        )).scalar_one())


def test_raw_batches_are_compressed_with_lz4_on_a_new_and_on_a_migrated_database(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    with engine.connect() as conn:
        if conn.execute(text(PG_LZ4_AVAILABLE)).first() is None:
            pytest.skip("this PostgreSQL server is built without lz4: payloads keep its default compression")
    assert payload_compression(engine) == "l"
    migrate(postgres_url, "3a7c9e21d4f6")  # the revision before: the server's default again
    assert payload_compression(engine) == "p"
    migrate(postgres_url, "head")
    assert payload_compression(engine) == "l"
    payload = bytes(range(256)) * 200  # compressible, and large enough to be stored out of line
    with engine.begin() as conn:
        conn.execute(insert(ingest_log).values(collector_id="c", host_id="h", received_ms=1, payload=payload))
    with engine.connect() as conn:
        stored, method = conn.execute(text("SELECT payload, pg_column_compression(payload) FROM ingest_log")).one()
    assert bytes(stored) == payload and method == "lz4"
    engine.dispose()
