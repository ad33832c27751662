"""Tables of the state store (SQLAlchemy Core; SQLite by default, PostgreSQL for several collectors).

Times are stored as integers (unix milliseconds for points and events, unix seconds for rollup
buckets) to keep ingest cheap; the read API converts them to tz-aware UTC datetimes.
"""

from __future__ import annotations

from sqlalchemy import (
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
)

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("info", JSON, nullable=False),
)

hosts = Table(
    "hosts",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False, index=True),
    Column("hostname", Text, nullable=False),
    Column("source", String(16), nullable=False, default="agent"),
    Column("labels", JSON, nullable=False),
    Column("facts", JSON, nullable=False),
    Column("agent_version", String(64), nullable=False, default=""),
    Column("first_seen_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("last_data_ms", BigInteger, nullable=False, default=0),
    Column("connected", Boolean, nullable=False, default=False),
    Column("connected_to", String(128), nullable=True),
    Column("spool", JSON, nullable=True),
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

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host_id", String(128), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("rule", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("line", Text, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("suppressed_before", Integer, nullable=False, default=0),
)
Index("ix_events_host_ts", events.c.host_id, events.c.ts_ms)
Index("ix_events_host_rule_ts", events.c.host_id, events.c.rule, events.c.ts_ms)

# Durable raw batches: the ack point. Rollups are derived from it and replayed after a crash.
ingest_log = Table(
    "ingest_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("collector_id", String(128), nullable=False),
    Column("host_id", String(128), nullable=False),
    Column("received_ms", BigInteger, nullable=False, index=True),
    Column("payload", LargeBinary, nullable=False),  # patrol.v1.AgentMessage (samples) as received
)

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
