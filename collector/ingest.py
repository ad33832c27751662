"""The ingest writer: makes upstream batches durable, deduplicates them and keeps rollups current.

One writer thread owns all writes. It takes whatever batches are waiting, commits them in one
transaction (raw samples into the ingest log, events into the event table, the per-agent sequence
high-water mark), and only then reports each batch as durable so the stream can ack it. Durable
batches are folded into the in-memory rollup aggregator, which a periodic flush merges into the
tier tables together with this collector's watermark over the ingest log.

Several collectors may share a PostgreSQL store, and an agent may reconnect to any of them.
Deduplication there trusts only the store: every commit reads the sequence high-water marks of its
streams with a row lock (``FOR UPDATE``), so two collectors receiving the same batch (an agent that
moved while its old connection was still draining) serialise on that row, and the second sees the
batch as a duplicate. A SQLite store has one collector, which caches the marks it has read.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, select, update

from collector import metrics
from collector.export.cursors import events_keep_from, raw_keep_from
from collector.store import watermark
from collector.store.bulk import raise_column
from collector.store.rollup import TIERS, RollupAggregator, _insert
from collector.store.schema import agent_streams, events, hosts, ingest_log
from protos.patrol.v1 import agent_pb2 as pb

log = logging.getLogger("patrol.ingest")

SEVERITY_NAMES = {
    pb.SEVERITY_UNSPECIFIED: "info",
    pb.SEVERITY_INFO: "info",
    pb.SEVERITY_WARNING: "warning",
    pb.SEVERITY_ERROR: "error",
    pb.SEVERITY_CRITICAL: "critical",
}


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass
class Batch:
    """One upstream data batch. ``done`` is called from the writer thread once its fate is known."""

    host_id: str
    epoch: str
    seq: int
    done: Callable[[Outcome], None]
    samples: pb.Samples | None = None
    events: pb.Events | None = None
    payload: bytes = b""  # the AgentMessage bytes as received, kept raw in the ingest log


@dataclass
class HostUpdate:
    host_id: str
    customer_id: str
    hostname: str
    source: str = "agent"
    labels: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] | None = None
    agent_version: str | None = None
    connected: bool | None = None
    connected_to: str | None = None
    spool: dict[str, int] | None = None
    seen_ms: int = 0
    done: Callable[[Outcome], None] | None = None


Clock = Callable[[], float]
RETENTION_EVERY_S = 600.0  # retention deletes are not worth running on every flush


@dataclass(frozen=True)
class FlushRequest:
    """Queued by :meth:`Ingestor.flush_now` behind the items it must see flushed."""

    number: int


def _size(item: Batch | HostUpdate) -> int:
    return len(item.payload) if isinstance(item, Batch) else 256


class Ingestor:
    def __init__(
        self,
        engine: Engine,
        collector_id: str,
        retention_s: dict[str, float],
        flush_interval: float = 2.0,
        queue_size: int = 2048,
        clock: Clock = time.time,
        max_group: int = 1024,
        max_group_bytes: int = 2 * 2**20,
        max_pending_cells: int = 200_000,
    ) -> None:
        self.engine = engine
        self.collector_id = collector_id
        self.retention_s = retention_s
        self.flush_interval = flush_interval
        self.clock = clock
        self.max_group = max_group
        # Bounded groups and flushes keep a backfill from holding live agents' acks for long.
        self.max_group_bytes = max_group_bytes
        self.max_pending_cells = max_pending_cells
        self.queue: queue.Queue[Batch | HostUpdate | FlushRequest | None] = queue.Queue(maxsize=queue_size)
        self.aggregator = RollupAggregator(retention_s)
        self._seen: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._last_flush = 0.0
        # Minus infinity, not 0: the monotonic clock counts from boot, so 0 would skip retention for
        # the first RETENTION_EVERY_S seconds of a freshly booted machine.
        self._last_retention = float("-inf")
        self._pending_ids: list[int] = []
        self._wm = 0  # this collector's rollup watermark as last read or written
        # On SQLite this process is the only writer, so stream marks it has read stay true and are
        # cached; a shared store (PostgreSQL) is read under row locks on every commit instead.
        self._shared = engine.dialect.name != "sqlite"
        self._hwm: dict[tuple[str, str], int] = {}
        self._stopping = threading.Event()
        self._flushed = threading.Condition()
        self._flush_requests = 0  # flush_now calls so far
        self._flush_wanted = 0  # the newest request the writer has dequeued
        self._flushed_upto = 0  # the newest request a completed flush has served
        self.stats = {"batches": 0, "duplicates": 0, "samples": 0, "events": 0}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._run, name="patrol-ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Drain queued batches, flush rollups and stop the writer."""
        if self._thread is None:
            return
        self._stopping.set()
        self.queue.put(None)
        self._thread.join()
        self._thread = None

    def recover(self) -> int:
        """Fold batches that were durable but not yet in the rollups (after a crash)."""
        n = 0
        with self.engine.connect() as conn:
            wm = self._wm = watermark.read(conn, self.collector_id)
            rows = conn.execute(
                select(ingest_log.c.id, ingest_log.c.host_id, ingest_log.c.payload)
                .where(ingest_log.c.collector_id == self.collector_id, ingest_log.c.id > wm)
                .order_by(ingest_log.c.id)
            )
            now = self.clock()
            for row in rows:
                self.aggregator.fold(row.host_id, pb.AgentMessage.FromString(row.payload).samples, now)
                self._pending_ids.append(row.id)
                n += 1
        if n:
            log.info("event=recover batches=%d watermark=%d", n, wm)
            self._flush()
        return n

    # ------------------------------------------------------------------ producer side

    def submit(self, item: Batch | HostUpdate, timeout: float | None = None) -> None:
        """Queue an item; blocks while the queue is full (backpressure)."""
        self.queue.put(item, timeout=timeout)
        metrics.ingest_queue_depth.set(self.queue.qsize())

    def touch(self, host_id: str, seen_ms: int) -> None:
        """Record that a host was heard from; persisted with the next flush."""
        self._seen[host_id] = seen_ms

    def flush_now(self, timeout: float = 30.0) -> None:
        """Commit everything queued so far, flush the rollups, and wait for it (tests, CLI, admin API).

        The request travels through the queue behind the items already waiting, so the flush that
        serves it starts after they were committed; a flush already under way does not count.
        """
        deadline = time.monotonic() + timeout
        with self._flushed:
            self._flush_requests += 1
            number = self._flush_requests
        try:
            self.queue.put(FlushRequest(number), timeout=timeout)
        except queue.Full:
            return
        with self._flushed:
            self._flushed.wait_for(lambda: self._flushed_upto >= number,
                                   timeout=max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        self._last_flush = time.monotonic()
        while True:
            timeout = max(0.01, self.flush_interval - (time.monotonic() - self._last_flush))
            group: list[Batch | HostUpdate] = []
            size = 0
            try:
                item = self.queue.get(timeout=timeout)
                while True:
                    if isinstance(item, FlushRequest):
                        self._flush_wanted = max(self._flush_wanted, item.number)
                    elif item is not None:
                        group.append(item)
                        size += _size(item)
                    if len(group) >= self.max_group or size >= self.max_group_bytes:
                        break
                    item = self.queue.get_nowait()
            except queue.Empty:
                pass
            metrics.ingest_queue_depth.set(self.queue.qsize())
            if group:
                self._commit(group)
            stopping = self._stopping.is_set() and self.queue.empty()
            due = time.monotonic() - self._last_flush >= self.flush_interval
            requested = self._flush_wanted > self._flushed_upto
            if due or stopping or requested or len(self.aggregator) > self.max_pending_cells:
                self._flush(serves=self._flush_wanted)
            if stopping:
                return

    def _stream_marks(self, conn: Any, batches: list[Batch], now_ms: int) -> dict[tuple[str, str], int]:
        """The stored high-water marks of the streams in ``batches`` (0 for a new stream).

        Shared store: read on every commit, locked until it ends. A stream's row must exist to be
        locked, so a new one is created first (a concurrent creator makes this wait for its commit)
        and the locking read always sees the other collector's mark. SQLite: read once, then cached.
        """
        keys = {(b.host_id, b.epoch) for b in batches}
        if not self._shared:
            keys -= self._hwm.keys()
        if not keys:
            return self._hwm
        query = (select(agent_streams.c.host_id, agent_streams.c.epoch, agent_streams.c.last_seq)
                 .where(agent_streams.c.host_id.in_(sorted({k[0] for k in keys}))))
        if self._shared:
            conn.execute(_insert(conn, agent_streams).on_conflict_do_nothing(
                index_elements=[agent_streams.c.host_id, agent_streams.c.epoch]),
                [{"host_id": h, "epoch": e, "last_seq": 0, "updated_ms": now_ms} for h, e in sorted(keys)])
            # One lock order for every collector: no deadlocks.
            query = query.order_by(agent_streams.c.host_id, agent_streams.c.epoch).with_for_update()
        found = {(h, e): int(seq) for h, e, seq in conn.execute(query)}
        marks = {key: found.get(key, 0) for key in keys}
        if self._shared:
            return marks
        self._hwm.update(marks)
        return self._hwm

    def _commit(self, group: list[Batch | HostUpdate]) -> None:
        t0 = time.perf_counter()
        now_ms = int(self.clock() * 1000)
        accepted: list[Batch] = []
        duplicates: list[Batch] = []
        host_updates = [g for g in group if isinstance(g, HostUpdate)]
        batches = [g for g in group if isinstance(g, Batch)]
        new_hwm: dict[tuple[str, str], int] = {}
        try:
            with self.engine.begin() as conn:
                for hu in host_updates:
                    self._apply_host(conn, hu, now_ms)
                stored = self._stream_marks(conn, batches, now_ms)
                for b in batches:
                    key = (b.host_id, b.epoch)
                    hwm = new_hwm.get(key) or stored.get(key, 0)
                    if b.seq <= hwm:
                        duplicates.append(b)
                        continue
                    new_hwm[key] = b.seq
                    accepted.append(b)
                raw = [b for b in accepted if b.samples is not None]
                ids: list[int] = []
                if raw:
                    res = conn.execute(
                        ingest_log.insert().returning(ingest_log.c.id, sort_by_parameter_order=True),
                        [{"collector_id": self.collector_id, "host_id": b.host_id, "received_ms": now_ms,
                          "payload": b.payload or pb.AgentMessage(samples=b.samples).SerializeToString()}
                         for b in raw],
                    )
                    ids = [r[0] for r in res]
                ev_rows = [
                    {"host_id": b.host_id, "ts_ms": e.timestamp_ms or e.observed_ms or now_ms, "rule": e.rule,
                     "severity": SEVERITY_NAMES.get(e.severity, "info"), "source": e.source, "line": e.line,
                     "fields": dict(e.fields), "suppressed_before": e.suppressed_before,
                     "collector_id": self.collector_id}
                    for b in accepted if b.events is not None for e in b.events.events
                ]
                if ev_rows:
                    conn.execute(events.insert(), ev_rows)
                if new_hwm:
                    ins = _insert(conn, agent_streams)
                    conn.execute(
                        ins.on_conflict_do_update(
                            index_elements=[agent_streams.c.host_id, agent_streams.c.epoch],
                            set_={"last_seq": ins.excluded.last_seq, "updated_ms": ins.excluded.updated_ms},
                            where=ins.excluded.last_seq > agent_streams.c.last_seq,
                        ),
                        [{"host_id": k[0], "epoch": k[1], "last_seq": v, "updated_ms": now_ms}
                         for k, v in new_hwm.items()],
                    )
        except Exception:
            metrics.store_errors.labels("commit").inc()
            log.exception("event=commit_failed batches=%d", len(batches))
            for key in new_hwm:
                self._hwm.pop(key, None)
            for item in group:
                if item.done is not None:
                    item.done(Outcome.FAILED)
            return
        if not self._shared:
            self._hwm.update(new_hwm)
        metrics.commit_seconds.observe(time.perf_counter() - t0)
        now_s = self.clock()
        n_samples = 0
        for b in raw:
            n_samples += self.aggregator.fold(b.host_id, b.samples, now_s)
        self._pending_ids.extend(ids)
        n_events = len(ev_rows)
        self.stats["batches"] += len(accepted)
        self.stats["duplicates"] += len(duplicates)
        self.stats["samples"] += n_samples
        self.stats["events"] += n_events
        metrics.samples_accepted.inc(n_samples)
        metrics.events_accepted.inc(n_events)
        metrics.batches_duplicate.inc(len(duplicates))
        for hu in host_updates:
            if hu.done is not None:
                hu.done(Outcome.ACCEPTED)
        for b in accepted:
            b.done(Outcome.ACCEPTED)
        for b in duplicates:
            b.done(Outcome.DUPLICATE)

    def _apply_host(self, conn: Any, hu: HostUpdate, now_ms: int) -> None:
        seen = hu.seen_ms or now_ms
        values: dict[str, Any] = {"customer_id": hu.customer_id, "hostname": hu.hostname, "source": hu.source,
                                  "last_seen_ms": seen, "labels": hu.labels}
        if hu.facts is not None:
            values["facts"] = hu.facts
        if hu.agent_version is not None:
            values["agent_version"] = hu.agent_version
        if hu.spool is not None:
            values["spool"] = hu.spool
        if hu.connected:
            values["connected"] = True
            values["connected_to"] = hu.connected_to
        # An upsert: the same host may appear at two collectors of a group at the same moment.
        ins = _insert(conn, hosts).values(
            id=hu.host_id, first_seen_ms=seen, last_data_ms=0,
            **{"facts": {}, "agent_version": "", "connected": False, **values})
        conn.execute(ins.on_conflict_do_update(index_elements=[hosts.c.id],
                                               set_={k: ins.excluded[k] for k in values}))
        if hu.connected is False:
            # Only the collector holding the stream may mark it gone: after a move, the old
            # collector's late disconnect must not hide the new connection.
            conn.execute(update(hosts).where(hosts.c.id == hu.host_id, hosts.c.connected_to == self.collector_id)
                         .values(connected=False, connected_to=None))

    def _flush(self, serves: int = 0) -> None:
        """Merge the accumulated rollups into the store; ``serves``: the flush_now request it answers."""
        t0 = time.perf_counter()
        self._last_flush = time.monotonic()
        seen = self._seen
        self._seen = {}
        last_data = dict(self.aggregator.last_data_ms)
        try:
            with self.engine.begin() as conn:
                written = self.aggregator.flush(conn)
                new_wm = max(self._pending_ids) if self._pending_ids else self._wm
                if new_wm != self._wm:
                    watermark.advance(conn, self.collector_id, self._wm, new_wm)
                for column, values in (("last_seen_ms", seen), ("last_data_ms", last_data)):
                    raise_column(conn, "hosts", column, "id", values)
                if time.monotonic() - self._last_retention > RETENTION_EVERY_S:
                    self._retention(conn)
        except Exception as e:
            # The raw batches are durable; dropping the accumulators would lose them from the rollups,
            # so forget them and refold from the ingest log past the watermark.
            metrics.store_errors.labels("flush").inc()
            if isinstance(e, watermark.WatermarkMoved):
                log.warning("event=watermark_moved (another collector folded our batches); refolding")
            else:
                log.exception("event=flush_failed; refolding from the ingest log")
            self.aggregator = RollupAggregator(self.retention_s)
            self._pending_ids.clear()
            self._seen.update(seen)
            try:
                self.recover()
            except Exception:
                log.exception("event=refold_failed")
            return
        self._wm = new_wm
        self._pending_ids.clear()
        self.aggregator.last_data_ms.clear()
        metrics.rollup_rows_written.inc(written)
        metrics.flush_seconds.observe(time.perf_counter() - t0)
        with self._flushed:
            self._flushed_upto = max(self._flushed_upto, serves)
            self._flushed.notify_all()

    def _retention(self, conn: Any) -> None:
        self._last_retention = time.monotonic()
        now = self.clock()
        wm = max(self._pending_ids) if self._pending_ids else self._wm
        expire_raw(conn, self.collector_id, wm, int((now - self.retention_s["raw"]) * 1000))
        for tier in TIERS:
            floor = int(now - self.retention_s[tier.name])
            conn.execute(delete(tier.table).where(tier.table.c.bucket < floor))
        old_events = [events.c.ts_ms < int((now - self.retention_s["events"]) * 1000)]
        keep_events = events_keep_from(conn, int(now * 1000))
        if keep_events is not None:
            old_events.append(events.c.id < keep_events)
        conn.execute(delete(events).where(*old_events))


def expire_raw(conn: Any, collector_id: str, folded_upto: int, older_than_ms: int) -> int:
    """Delete a collector's raw batches that are in the rollups, exported, and past retention."""
    raw = [ingest_log.c.collector_id == collector_id, ingest_log.c.id <= folded_upto,
           ingest_log.c.received_ms < older_than_ms]
    keep = raw_keep_from(conn, collector_id)  # the InfluxDB export has not delivered these yet
    if keep is not None:
        raw.append(ingest_log.c.id < keep)
    return int(conn.execute(delete(ingest_log).where(*raw)).rowcount or 0)
