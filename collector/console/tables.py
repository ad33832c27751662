"""Tables of the web console: its users and their server-side sessions.

Passwords are stored as argon2 hashes, sessions by the SHA-256 of their id (the cookie holds the id,
the store never does). Times are unix milliseconds like the rest of the store. Writes made through
the console are audited in :data:`collector.diagnostics.tables.audit_log` (``via = 'console'``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from collector.store.schema import metadata

ROLES = ("admin", "engineer", "viewer", "customer")
LANGUAGES = ("zh", "en")

console_users = Table(
    "console_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),  # admin | engineer | viewer | customer
    Column("customer_id", String(128), nullable=True),  # the one customer a ``customer`` login sees
    Column("language", String(8), nullable=False),  # zh | en
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("password_changed_ms", BigInteger, nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # hex SHA-256 of the cookie's session id
    Column("user_id", Integer, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("client", String(64), nullable=False),  # the client address at login
    Index("ix_console_sessions_user", "user_id"),
    Index("ix_console_sessions_last_seen", "last_seen_ms"),
)
