"""What the exporter reads: raw sample batches from ``ingest_log`` and log events from ``events``, by id.

Each source turns store rows into :class:`Chunk` s of line protocol. The exporter's cursor moves to a
chunk's ``row_id`` once every line of it has been acknowledged by the target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, select

from collector.export import metrics
from collector.export.lineprotocol import HostTags, SampleEncoder, event_line
from collector.export.outcome import Precision
from collector.store import cursors
from collector.store.samples import logged_samples
from collector.store.schema import events, hosts, ingest_log


@dataclass(slots=True)
class Chunk:
    row_id: int  # the cursor may move here once every line is acknowledged
    lines: list[str]
    count: int  # samples (or events) the lines carry
    received_ms: int | None = None  # when the batch became durable (samples only)
    offset: int = 0  # lines already acknowledged


class Source(Protocol):
    stream: str
    precision: Precision

    def chunks(self, conn: Connection, after_id: int, rows: int) -> Iterator[Chunk]: ...
    def newest_id(self, conn: Connection) -> int: ...


class HostDirectory:
    """host id -> identity tags, from the ``hosts`` table; reloaded once a minute to follow renames."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_age: float = 60.0) -> None:
        self._tags: dict[str, HostTags] = {}
        self._loaded = float("-inf")
        self._clock = clock
        self._max_age = max_age

    def get(self, conn: Connection, host_id: str) -> HostTags:
        if self._clock() - self._loaded > self._max_age:
            self._tags = {r.id: HostTags(r.id, r.hostname, r.customer_id)
                          for r in conn.execute(select(hosts.c.id, hosts.c.hostname, hosts.c.customer_id))}
            self._loaded = self._clock()
        tags = self._tags.get(host_id)
        if tags is None:
            row = conn.execute(select(hosts.c.hostname, hosts.c.customer_id).where(hosts.c.id == host_id)).first()
            # A host row is written before (or with) its first batch; without one the id must do.
            tags = HostTags(host_id, row.hostname, row.customer_id) if row else HostTags(host_id, host_id, "")
            self._tags[host_id] = tags
        return tags


class SampleSource:
    """This collector's raw batches in ``ingest_log``: the durable queue of the export."""

    stream = cursors.SAMPLES
    precision: Precision = "ms"

    def __init__(self, collector_id: str, hosts_: HostDirectory, encoder: SampleEncoder | None = None) -> None:
        self.collector_id = collector_id
        self.hosts = hosts_
        self.encoder = encoder or SampleEncoder()

    def chunks(self, conn: Connection, after_id: int, rows: int) -> Iterator[Chunk]:
        page = conn.execute(
            select(ingest_log.c.id, ingest_log.c.host_id, ingest_log.c.received_ms, ingest_log.c.payload)
            .where(ingest_log.c.collector_id == self.collector_id, ingest_log.c.id > after_id)
            .order_by(ingest_log.c.id).limit(rows)
        ).all()
        for row in page:  # decoded lazily: the exporter stops taking rows when its queue is full
            samples = logged_samples(bytes(row.payload))
            skipped = self.encoder.skipped
            lines, count = self.encoder.encode(self.hosts.get(conn, row.host_id), samples)
            if self.encoder.skipped > skipped:
                metrics.values_skipped.inc(self.encoder.skipped - skipped)
            yield Chunk(row.id, lines, count, received_ms=row.received_ms)

    def newest_id(self, conn: Connection) -> int:
        # ORDER BY id DESC LIMIT 1 walks the primary key from the end; MAX() with a WHERE would scan.
        newest = conn.execute(select(ingest_log.c.id).where(ingest_log.c.collector_id == self.collector_id)
                              .order_by(ingest_log.c.id.desc()).limit(1)).scalar_one_or_none()
        return int(newest or 0)


class EventSource:
    """The log events this collector received, in ``events``."""

    stream = cursors.EVENTS
    precision: Precision = "ns"

    def __init__(self, collector_id: str, hosts_: HostDirectory) -> None:
        self.collector_id = collector_id
        self.hosts = hosts_

    def chunks(self, conn: Connection, after_id: int, rows: int) -> Iterator[Chunk]:
        page = conn.execute(
            select(events.c.id, events.c.host_id, events.c.ts_ms, events.c.rule, events.c.severity, events.c.source,
                   events.c.line, events.c.suppressed_before)
            .where(events.c.collector_id == self.collector_id, events.c.id > after_id)
            .order_by(events.c.id).limit(rows)
        ).all()
        if page:
            lines = [event_line(self.hosts.get(conn, r.host_id), r.id, r.ts_ms, r.rule, r.severity, r.source, r.line,
                                r.suppressed_before or 0) for r in page]
            yield Chunk(page[-1].id, lines, len(lines))

    def newest_id(self, conn: Connection) -> int:
        newest = conn.execute(select(events.c.id).where(events.c.collector_id == self.collector_id)
                              .order_by(events.c.id.desc()).limit(1)).scalar_one_or_none()
        return int(newest or 0)
