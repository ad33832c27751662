"""Tables of the report archive and of the report schedules.

``reports`` has one row per generation of a report (a customer, a kind, a period, a language): a
period regenerated later is a new row, the older ones stay. ``report_documents`` holds what was
rendered (html, pdf) with its SHA-256, checked again whenever a document is read back.
``report_schedule`` keeps, per customer and kind, where the schedule stands: the last inspection
run a monthly report was made for, the next due time of the quarterly report. Times are unix ms.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from collector.store.schema import metadata

REPORT_STATUSES = ("completed", "failed")
DELIVERY_STATUSES = ("none", "pending", "sent", "failed", "skipped")

reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # monthly | quarterly
    Column("period", String(16), nullable=False),  # 2026-10 | 2026Q3
    Column("language", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("trigger", String(16), nullable=False),  # schedule | api | manual
    Column("requested_by", String(128), nullable=True),
    Column("inspection_run_id", Integer, nullable=True),  # the monthly inspection the report follows
    Column("generated_ms", BigInteger, nullable=False),
    Column("data_until_ms", BigInteger, nullable=True),
    Column("summary", JSON, nullable=True),  # a few headline numbers for listings
    Column("collector_id", String(128), nullable=False),
    Column("delivery_status", String(16), nullable=False, default="none"),
    Column("recipients", JSON, nullable=True),
    Column("delivery_attempts", Integer, nullable=False, default=0),
    Column("delivery_next_ms", BigInteger, nullable=True),
    Column("delivered_ms", BigInteger, nullable=True),
    Column("delivery_error", Text, nullable=True),
)
Index("ix_reports_customer_period", reports.c.customer_id, reports.c.kind, reports.c.period)
Index("ix_reports_delivery", reports.c.delivery_status, reports.c.delivery_next_ms)

report_documents = Table(
    "report_documents",
    metadata,
    Column("report_id", Integer, primary_key=True),
    Column("format", String(8), primary_key=True),  # html | pdf
    Column("filename", Text, nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

report_schedule = Table(
    "report_schedule",
    metadata,
    Column("customer_id", String(128), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("cursor", BigInteger, nullable=False),  # monthly: last inspection run id; quarterly: next due ms
    Column("updated_ms", BigInteger, nullable=False),
)
