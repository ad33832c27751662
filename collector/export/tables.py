"""The export cursors: how far each collector's export has got, per stream, in the state store."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from collector.store.schema import metadata

# One row per (collector, stream). ``last_id`` is the id of the newest ingest_log row ("samples") or
# events row ("events") whose points the target has acknowledged; retention keeps rows from it on.
export_cursors = Table(
    "export_cursors",
    metadata,
    Column("collector_id", String(128), primary_key=True),
    Column("stream", String(32), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)
