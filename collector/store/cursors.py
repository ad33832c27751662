"""Export cursors in the state store, and the retention floors they impose on the ingest log and events.

They live with the store because retention (a core job) must honour them whether or not this
collector exports.

The store's ``ingest_log`` (raw sample batches) and ``events`` tables are the export's durable queue:
the exporter tails them by id and moves a persisted cursor only after the target acknowledged the
points. Retention must therefore never delete a row at or past a live cursor; :func:`raw_keep_from`
and :func:`events_keep_from` tell the ingest writer's retention where to stop. The row *at* the cursor
is kept too, so that SQLite (whose rowids restart from the largest id left in a table) can never hand
out an id the exporter believes it has already passed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, Engine, String, Table, delete, func, select, update

from collector.store.schema import metadata

# One row per (collector, stream). ``last_id`` is the id of the newest ingest_log row ("samples") or
# events row ("events") whose points the target has acknowledged; retention keeps rows from it on.
export_cursors = Table(
    "export_cursors",
    metadata,
    Column("collector_id", String(128), primary_key=True),
    Column("stream", String(32), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

SAMPLES = "samples"
EVENTS = "events"
# A collector refreshes its cursor rows at least this often while its export runs; an events cursor
# older than STALE_MS belongs to a collector that is gone and no longer holds back events retention.
HEARTBEAT_MS = 60_000
STALE_MS = 24 * 3600 * 1000


def load(conn: Connection, collector_id: str, stream: str) -> int | None:
    return conn.execute(
        select(export_cursors.c.last_id).where(export_cursors.c.collector_id == collector_id,
                                               export_cursors.c.stream == stream)
    ).scalar_one_or_none()


def save(conn: Connection, collector_id: str, stream: str, last_id: int, now_ms: int) -> None:
    # Only one exporter per (collector, stream) writes its row, so update-then-insert cannot race.
    res = conn.execute(
        update(export_cursors)
        .where(export_cursors.c.collector_id == collector_id, export_cursors.c.stream == stream)
        .values(last_id=last_id, updated_ms=now_ms)
    )
    if res.rowcount == 0:
        conn.execute(export_cursors.insert().values(collector_id=collector_id, stream=stream, last_id=last_id,
                                                    updated_ms=now_ms))


def release(engine: Engine, collector_id: str, streams: tuple[str, ...] = (SAMPLES, EVENTS)) -> int:
    """Forget this collector's cursors (export turned off), so they stop holding back retention."""
    with engine.begin() as conn:
        res = conn.execute(delete(export_cursors).where(export_cursors.c.collector_id == collector_id,
                                                        export_cursors.c.stream.in_(streams)))
    return int(res.rowcount or 0)


def raw_keep_from(conn: Connection, collector_id: str) -> int | None:
    """Retention must keep this collector's ``ingest_log`` rows with ``id >=`` the result (None: no limit)."""
    return load(conn, collector_id, SAMPLES)


def events_keep_from(conn: Connection, now_ms: int) -> int | None:
    """Retention must keep ``events`` rows with ``id >=`` the result (None: no limit).

    Events are one table for all collectors, so the lowest live events cursor of any collector counts;
    cursors not refreshed for a day belong to collectors that are gone and are ignored.
    """
    return conn.execute(
        select(func.min(export_cursors.c.last_id)).where(export_cursors.c.stream == EVENTS,
                                                         export_cursors.c.updated_ms >= now_ms - STALE_MS)
    ).scalar_one_or_none()
