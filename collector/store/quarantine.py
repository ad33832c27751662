"""The quarantine in the state store: batches the store refused for good, kept raw with the reason.

The ingest writer puts batches here; the quarantine feature (``collector/quarantine``) lists,
replays and drops them. Both go through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)

from collector.store.schema import RowId, metadata

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("collector_id", String(128), nullable=False),
    Column("host_id", String(128), nullable=False),
    Column("epoch", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # samples | events | ingest_log
    Column("received_ms", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # patrol.v1.AgentMessage bytes
)
Index("ix_quarantine_host_id", quarantine.c.host_id, quarantine.c.id)

LIST_COLUMNS = (quarantine.c.id, quarantine.c.collector_id, quarantine.c.host_id, quarantine.c.epoch,
                quarantine.c.seq, quarantine.c.kind, quarantine.c.received_ms, quarantine.c.reason,
                func.length(quarantine.c.payload).label("bytes"))


@dataclass(frozen=True)
class Entry:
    collector_id: str
    host_id: str
    epoch: str
    seq: int
    kind: str
    received_ms: int
    reason: str
    payload: bytes


def put(conn: Connection, entry: Entry) -> int:
    res = conn.execute(quarantine.insert().values(**entry.__dict__).returning(quarantine.c.id))
    return int(res.scalar_one())


def listing(conn: Connection, host_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    q = select(*LIST_COLUMNS).order_by(quarantine.c.id).limit(limit)
    if host_id:
        q = q.where(quarantine.c.host_id == host_id)
    return [dict(r) for r in conn.execute(q).mappings()]


def get(conn: Connection, entry_id: int) -> Entry | None:
    row = conn.execute(select(quarantine).where(quarantine.c.id == entry_id)).mappings().first()
    if row is None:
        return None
    return Entry(**{k: row[k] for k in Entry.__dataclass_fields__})


def remove(conn: Connection, entry_id: int) -> bool:
    return bool(conn.execute(delete(quarantine).where(quarantine.c.id == entry_id)).rowcount)


def set_reason(conn: Connection, entry_id: int, reason: str) -> None:
    conn.execute(update(quarantine).where(quarantine.c.id == entry_id).values(reason=reason))


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(quarantine)).scalar_one())
