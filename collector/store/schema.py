"""Tables of the state store (SQLAlchemy Core; SQLite by default, PostgreSQL for several collectors).

Times are stored as integers (unix milliseconds for points and events, unix seconds for rollup
buckets) to keep ingest cheap; the read API converts them to tz-aware UTC datetimes.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB

# Every constraint gets a predictable name on every backend, so that migrations can refer to it
# (SQLite's batch mode cannot drop an unnamed constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

# JSON documents: JSONB on PostgreSQL (binary, comparable, indexable), JSON text on SQLite.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
# Ids of rows that grow with ingest: 64-bit on PostgreSQL. SQLite's rowid is 64-bit already, and only a
# column declared INTEGER PRIMARY KEY is an alias for it (BIGINT PRIMARY KEY would not autoincrement).
# Tables that others follow by id (the rollup watermark, export cursors) also set sqlite_autoincrement.
RowId = BigInteger().with_variant(Integer(), "sqlite")

customers = Table(
    "customers",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("info", JsonDoc, nullable=False),
)

hosts = Table(
    "hosts",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False, index=True),
    Column("hostname", Text, nullable=False),
    Column("source", String(16), nullable=False, default="agent"),
    Column("labels", JsonDoc, nullable=False),
    Column("facts", JsonDoc, nullable=False),
    Column("agent_version", String(64), nullable=False, default=""),
    Column("first_seen_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("last_data_ms", BigInteger, nullable=False, default=0),
    Column("connected", Boolean, nullable=False, default=False),
    Column("connected_to", String(128), nullable=True),
    Column("spool", JsonDoc, nullable=True),
    # Points and events the ingest door dropped, by reason: {"samples": {reason: n}, "events": {...}}
    Column("rejected", JsonDoc, nullable=True),
)

series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host_id", String(128), ForeignKey("hosts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("labels", Text, nullable=False),  # canonical JSON of sorted label pairs
    UniqueConstraint("host_id", "name", "labels", name="uq_series_key"),
)

latest = Table(
    "latest",
    metadata,
    Column("series_id", Integer, primary_key=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
)


def _rollup_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("series_id", Integer, primary_key=True),
        Column("bucket", BigInteger, primary_key=True),  # unix seconds at the bucket start
        Column("min", Float, nullable=False),
        Column("max", Float, nullable=False),
        Column("sum", Float, nullable=False),
        Column("count", Integer, nullable=False),
        Column("last", Float, nullable=False),
        Column("last_ts_ms", BigInteger, nullable=False),
    )


rollup_1m = _rollup_table("rollup_1m")
rollup_1h = _rollup_table("rollup_1h")
Index("ix_rollup_1m_bucket", rollup_1m.c.bucket)
Index("ix_rollup_1h_bucket", rollup_1h.c.bucket)

# The compacted hourly tier: one row per series and block of three days, holding the block's hourly
# buckets packed (collector.store.read.packed). A monthly read of a fleet then costs about eleven rows
# per series instead of one per hour. Live hours stay in rollup_1h until the compaction job moves
# completed days here; a bucket lives in one of the two tables, except late data for a packed day,
# which the writer upserts as a live row again and readers merge (collector.store.read.columnar).
rollup_1h_blocks = Table(
    "rollup_1h_blocks",
    metadata,
    Column("series_id", Integer, primary_key=True),
    Column("block", BigInteger, primary_key=True),  # unix seconds at the block's start
    Column("buckets", Integer, nullable=False),  # how many hourly buckets ``data`` holds
    Column("data", LargeBinary, nullable=False),
)
Index("ix_rollup_1h_blocks_block", rollup_1h_blocks.c.block)

events = Table(
    "events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("host_id", String(128), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("rule", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("line", Text, nullable=False),
    Column("fields", JsonDoc, nullable=False),
    Column("suppressed_before", Integer, nullable=False, default=0),
    # The collector that received it: each collector of a group exports its own events, in the
    # order it committed them (ids of concurrent writers interleave).
    Column("collector_id", String(128), nullable=False, server_default=""),
    sqlite_autoincrement=True,
)
Index("ix_events_collector_id", events.c.collector_id, events.c.id)
Index("ix_events_host_ts", events.c.host_id, events.c.ts_ms)
Index("ix_events_host_rule_ts", events.c.host_id, events.c.rule, events.c.ts_ms)

# Durable raw batches: the ack point. Rollups are derived from it and replayed after a crash.
ingest_log = Table(
    "ingest_log",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("collector_id", String(128), nullable=False),
    Column("host_id", String(128), nullable=False),
    Column("received_ms", BigInteger, nullable=False, index=True),
    Column("payload", LargeBinary, nullable=False),  # patrol.v1.AgentMessage (samples) as received
    # Ids only grow, as with PostgreSQL's sequences: without AUTOINCREMENT SQLite reuses the ids of
    # deleted rows once retention has emptied the table, and a reused id at or below the rollup
    # watermark (or an export cursor) would be skipped by crash recovery.
    sqlite_autoincrement=True,
)

# PostgreSQL compresses the raw batches with lz4 where the server has it (PostgreSQL 14 or later built
# with lz4, as Debian's is). Its default, pglz, costs the server three times the CPU per batch
# (2.0 against 0.6 CPU-s for 14,000 batches of 11 KB) to store them a fifth smaller.
PG_LZ4_AVAILABLE = "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
PG_PAYLOAD_LZ4 = (f"DO $$ BEGIN IF EXISTS ({PG_LZ4_AVAILABLE}) THEN "
                  "ALTER TABLE ingest_log ALTER COLUMN payload SET COMPRESSION lz4; END IF; END $$")
event.listen(ingest_log, "after_create", DDL(PG_PAYLOAD_LZ4).execute_if(dialect="postgresql"))


# Per-agent, per-spool-epoch high-water mark of durable sequence numbers: dedup survives restarts
# and, on a shared store, moves between collectors with the agent.
agent_streams = Table(
    "agent_streams",
    metadata,
    Column("host_id", String(128), primary_key=True),
    Column("epoch", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
