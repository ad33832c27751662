"""The quarantine table: batches the store refused for good, kept raw with the reason."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, String, Table, Text

from collector.store.schema import RowId, metadata

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("collector_id", String(128), nullable=False),
    Column("host_id", String(128), nullable=False),
    Column("epoch", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # samples | events | ingest_log
    Column("received_ms", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # patrol.v1.AgentMessage bytes
)
Index("ix_quarantine_host_id", quarantine.c.host_id, quarantine.c.id)
