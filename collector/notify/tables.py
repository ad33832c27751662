"""The durable notification outbox: a notification is a row before anything is sent.

Rows move pending → sending (claimed with a token and a lease) → sent, or back to pending with a
later ``next_attempt_ms`` after a failure, or to failed after the last attempt. ``delivery_id`` is
fixed at the first attempt, so a burst grouped into one message is retried as the same message and a
receiver can use it as an idempotency key (``X-Patrol-Delivery``).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Text

from collector.store.schema import metadata

notify_outbox = Table(
    "notify_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(128), nullable=False),
    Column("group_key", String(512), nullable=False),
    Column("recipients", JSON, nullable=False),  # explicit e-mail addresses, else the channel's own
    Column("event", String(40), nullable=False),
    Column("customer_id", String(128), nullable=True),
    Column("severity", String(4), nullable=True),
    Column("ticket_id", Integer, nullable=True),
    Column("payload", JSON, nullable=False),  # Notification.to_dict()
    Column("created_ms", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),  # pending | sending | sent | failed
    Column("delivery_id", String(64), nullable=True),
    Column("claim", String(64), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("sent_ms", BigInteger, nullable=True),
)
Index("ix_notify_outbox_status_next", notify_outbox.c.status, notify_outbox.c.next_attempt_ms)
Index("ix_notify_outbox_claim", notify_outbox.c.claim)
