"""The SSH poller's own table: each target's connection state and last error.

Kept apart from ``hosts`` so that a failed poll does not pretend the host was heard from: the
host row says when the host was last *seen* (last successful poll); this row says what happened on
the last *attempt*, for findings, the API and operators.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, String, Table, Text

from collector.store.schema import metadata

ssh_targets = Table(
    "ssh_targets",
    metadata,
    Column("host_id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("endpoint", Text, nullable=False),  # user@address:port
    # ok | unreachable | hostkey_changed | hostkey_unknown | auth_failed | key_error | error
    Column("state", String(32), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("problems", JSON, nullable=False),  # commands of the last good poll that gave nothing usable
    Column("first_attempt_ms", BigInteger, nullable=False),
    Column("last_attempt_ms", BigInteger, nullable=False),
    Column("last_ok_ms", BigInteger, nullable=True),
    Column("state_since_ms", BigInteger, nullable=False),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("host_key", String(128), nullable=True),  # fingerprint of the last host key that was accepted
    Column("collector_id", String(128), nullable=False),
)
