"""The group leader exports what dead collectors left unexported.

Each collector exports its own ingest log and events, so a member that stops for good would leave
its tail unexported (and, through its cursors, held back from retention). The leader of the group
checks every :data:`ADOPT_EVERY_S` for dead members whose export cursors are behind their rows and
runs an exporter under the dead member's id until it is caught up. The dead member's cursors move
as if it had exported them itself, so if it comes back it resumes after them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, select

from collector.cluster.membership import dead_members, store_now_ms
from collector.export.config import InfluxExport
from collector.export.exporter import Exporter, TargetDown, Writer
from collector.store.cursors import export_cursors

log = logging.getLogger("patrol.export")

ADOPT_EVERY_S = 30.0
MAX_CYCLES = 10_000  # one adoption pass stops here and continues at the next


def orphans(engine: Engine, collector_id: str, ttl_ms: int) -> list[str]:
    """Dead members of the group that were exporting."""
    with engine.connect() as conn:
        dead = set(dead_members(conn, ttl_ms, store_now_ms(conn))) - {collector_id}
        if not dead:
            return []
        return sorted(conn.execute(select(export_cursors.c.collector_id).distinct()
                                   .where(export_cursors.c.collector_id.in_(dead))).scalars())


def adopt(engine: Engine, member: str, cfg: InfluxExport, writer: Writer, clock: Callable[[], float]) -> int:
    """Export a dead member's backlog as that member; returns the cycles run."""
    exporter = Exporter(engine, member, cfg, writer, clock=clock)
    exporter.open()
    cycles = 0
    try:
        while cycles < MAX_CYCLES:
            cycles += 1
            if not exporter.run_once():
                break
    except TargetDown as e:
        log.warning("event=export_adoption_paused member=%s status=%s message=%r", member, e.result.status,
                    e.result.message)
    finally:
        exporter.persist(force=True)
        writer.close()
    log.info("event=export_adopted member=%s cycles=%d", member, cycles)
    return cycles
