"""The collector's audit log of diagnostic requests.

Append-only: rows are inserted, never updated or deleted. A request leaves a ``diag.request`` row
when it is made (``outcome`` is ``offline`` or ``refused`` when it never reached a host, else NULL)
and a ``diag.result`` row when it ends (``outcome`` ok | denied | timeout | truncated | error |
cancelled, ``bytes`` delivered); ``diag.cancel`` records who cancelled it, and
``diag.unsolicited`` a result from an agent for a request this collector was not waiting for (a
replayed or injected request, or one that outlived a collector restart). Times are unix ms.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Table, Text

from collector.store.schema import RowId, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("host_id", String(128), nullable=True),
    Column("action", String(64), nullable=True),
    Column("args", JSON, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("bytes", BigInteger, nullable=True),
    Column("detail", Text, nullable=True),
    Column("via", String(16), nullable=True),  # agent | ssh
    Column("collector_id", String(128), nullable=False),
    Index("ix_audit_log_at", "at_ms"),
    Index("ix_audit_log_host_at", "host_id", "at_ms"),
    Index("ix_audit_log_request", "request_id"),
)

# Requests relayed through the store to an agent connected to another collector of the group:
# the origin collector posts the signed request, the collector holding the agent's stream sends it
# and writes the result chunks back, which the origin reads in order (by ``diag_relay_chunks.id``).
diag_relay = Table(
    "diag_relay",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("host_id", String(128), nullable=False),
    Column("origin", String(128), nullable=False),
    Column("target", String(128), nullable=False),
    Column("request", LargeBinary, nullable=False),  # the signed DiagnosticRequest
    Column("state", String(16), nullable=False),  # queued | sent | done
    Column("created_ms", BigInteger, nullable=False),
    Column("cancel_by", String(128), nullable=True),
    Column("cancel_sent", Boolean, nullable=False, default=False),
    Index("ix_diag_relay_target_state", "target", "state"),
)

diag_relay_chunks = Table(
    "diag_relay_chunks",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("chunk", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("final", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=False),
    Column("total_bytes", BigInteger, nullable=False),
    Index("ix_diag_relay_chunks_request", "request_id", "id"),
    sqlite_autoincrement=True,
)
