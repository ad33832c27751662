"""Tables of tickets, their timelines and SLA clocks, and maintenance windows.

Times are unix milliseconds. ``open_fingerprint`` equals the fingerprint while a ticket is open and is
NULL otherwise; its unique constraint is the "one open ticket per fingerprint" rule, enforced by the
database itself so that several collectors on one PostgreSQL cannot open the same ticket twice
(NULLs do not collide in SQLite or PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text

from collector.store.schema import metadata

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(512), nullable=False, index=True),
    Column("open_fingerprint", String(512), nullable=True, unique=True),
    Column("customer_id", String(128), nullable=False, index=True),
    Column("host_id", String(128), nullable=True, index=True),
    Column("check_id", String(200), nullable=False),
    Column("subject", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("severity", String(4), nullable=False),
    Column("state", String(24), nullable=False, index=True),
    Column("resume_state", String(24), nullable=True),
    Column("sla_profile", String(128), nullable=False),
    Column("registration", JSON, nullable=False),
    Column("classification", JSON, nullable=False),
    Column("closure", JSON, nullable=True),
    Column("satisfaction", JSON, nullable=True),
    Column("details", JSON, nullable=False),
    Column("forecast", JSON, nullable=True),
    Column("assignee", String(128), nullable=True),
    Column("reporter", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("resolved_ms", BigInteger, nullable=True),
    Column("resolved_by", String(128), nullable=True),
    Column("closed_ms", BigInteger, nullable=True),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("firing", Boolean, nullable=False, default=True),
    Column("clear_since_ms", BigInteger, nullable=True),
    Column("flapping", Boolean, nullable=False, default=False),
    Column("flap_changes", JSON, nullable=False),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("repeat_of", Integer, nullable=True),
    Column("plan_required_ms", BigInteger, nullable=True),
    Column("plan_sent_ms", BigInteger, nullable=True),
    Column("last_repeat_note_ms", BigInteger, nullable=True),
    Column("repeats_since_note", Integer, nullable=False, default=0),
)

# Append-only: rows are inserted, never updated or deleted.
ticket_timeline = Table(
    "ticket_timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(40), nullable=False),
    Column("details", JSON, nullable=False),
)
Index("ix_ticket_timeline_ticket", ticket_timeline.c.ticket_id, ticket_timeline.c.id)

ticket_clocks = Table(
    "ticket_clocks",
    metadata,
    Column("ticket_id", Integer, primary_key=True),
    Column("clock", String(16), primary_key=True),
    Column("target_s", Float, nullable=True),
    Column("intervals", JSON, nullable=False),  # [[start_ms, end_ms | null], …]
    Column("stop_reason", String(16), nullable=True),
    Column("warned_ms", BigInteger, nullable=True),
    Column("breached_ms", BigInteger, nullable=True),
)

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer", String(200), nullable=True),
    Column("host", String(200), nullable=True),
    Column("check_id", String(200), nullable=True),
    Column("start_ms", BigInteger, nullable=True),
    Column("end_ms", BigInteger, nullable=True),
    Column("weekdays", JSON, nullable=True),
    Column("hours", JSON, nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("deleted_ms", BigInteger, nullable=True),
)

# Notifications' tables are registered with this feature's (collector/tickets/feature.py).
import collector.notify.tables  # noqa: E402, F401
