"""The maintenance record (系统维护记录表): problems an engineer fixed on the spot during an inspection.

One row per fixed finding of a run, with the symptom, analysis and steps the contracts ask for
(问题的现象、分析、排除步骤). ``ticket_id`` is the ticket the record closed, when one was open.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from collector.store.schema import metadata

maintenance_records = Table(
    "maintenance_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("customer_id", String(128), nullable=False),
    Column("host_id", String(128), nullable=True),
    Column("check_id", String(200), nullable=False),
    Column("subject", Text, nullable=False),
    Column("symptom", Text, nullable=False),  # 问题的现象
    Column("analysis", Text, nullable=False),  # 分析
    Column("steps", Text, nullable=False),  # 排除步骤
    Column("recorded_by", String(128), nullable=False),
    Column("recorded_ms", BigInteger, nullable=False),
    Column("ticket_id", Integer, nullable=True),
)
Index("ix_maintenance_records_run", maintenance_records.c.run_id)
