"""The run history of periodic jobs: one row per run, a bounded number of rows per job."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, String, Table, Text

from collector.store.schema import RowId, metadata

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("job_id", String(255), nullable=False),
    Column("collector_id", String(128), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # ok | failed | skipped
    Column("error", Text, nullable=True),
    Index("ix_job_runs_job", "job_id", "id"),
)
