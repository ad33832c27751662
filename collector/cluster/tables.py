"""Tables of the collector group: who is alive, and who holds the lease on scheduled work.

``collectors`` has a row per collector id that ever ran on the store, refreshed every heartbeat;
a member whose heartbeat is older than the lease TTL is considered gone. ``leases`` holds named
leases; ``token`` grows by one every time a lease changes hands, so work done under a lease can be
fenced against a holder that lost it without noticing. Times are unix ms of the store's clock.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from collector.store.schema import metadata

collectors = Table(
    "collectors",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("listen", String(255), nullable=False),
    Column("api", String(255), nullable=False),
    Column("version", String(64), nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("heartbeat_ms", BigInteger, nullable=False),
    Column("sessions", Integer, nullable=False, default=0),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("acquired_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)
