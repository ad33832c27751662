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

from google.protobuf.message import DecodeError
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from collector import metrics
from collector.ingest_validation import Rejections
from collector.ingest_validation.bounds import MAX_SEQ
from collector.store import quarantine as quarantined
from collector.store import watermark
from collector.store.bulk import insert_columns, insert_returning, raise_column
from collector.store.compaction import expire_blocks
from collector.store.cursors import events_keep_from, raw_keep_from
from collector.store.rollup import TIERS, RollupAggregator, _insert
from collector.store.samples import FlatSamples, MalformedSamples, flatten, has_columns, logged_samples
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
    QUARANTINED = "quarantined"  # refused by the store for good, kept in the quarantine: acked
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
    rejected: Rejections | None = None  # what the door dropped from it
    replay_of: int | None = None  # a quarantine entry being retried: no dedup, removed once stored
    flat: FlatSamples | None = None  # ``samples`` as the door read them, when it read them

    def kind(self) -> str:
        return "samples" if self.samples is not None else "events"

    def raw(self) -> bytes:
        if self.payload:
            return self.payload
        if self.samples is None:
            return pb.AgentMessage(events=self.events).SerializeToString()
        if has_columns(self.samples):
            return pb.AgentMessage(sample_columns=self.samples).SerializeToString()
        return pb.AgentMessage(samples=self.samples).SerializeToString()


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
RETENTION_EVERY_S = 600.0  # default interval of the retention job: deletes are not worth running more often
RECOVER_CHUNK = 1000  # ingest log rows folded per flush while recovering: bounded memory
REFOLD_BACKOFF_S = (1.0, 60.0)  # after a failed flush, refold after 1 s, doubling up to 60 s


_STREAMS_HEAD = "INSERT INTO agent_streams (host_id, epoch, last_seq, updated_ms)"
_STREAMS_TYPES = ("text", "text", "int8", "int8")


def refused_for_good(error: BaseException) -> bool:
    """True when the store rejects the data itself, so trying the same batch again cannot help."""
    if isinstance(error, DBAPIError):
        return isinstance(error, (IntegrityError, DataError)) and not error.connection_invalidated
    return isinstance(error, (StatementError, OverflowError, ValueError, TypeError))


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
        coarse_flush_interval: float = 30.0,
        queue_size: int = 2048,
        clock: Clock = time.time,
        max_group: int = 1024,
        max_group_bytes: int = 2 * 2**20,
        max_pending_cells: int = 500_000,
    ) -> None:
        self.engine = engine
        self.collector_id = collector_id
        self.retention_s = retention_s
        self.flush_interval = flush_interval
        self.coarse_flush_interval = max(flush_interval, coarse_flush_interval)
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
        self._last_coarse_flush = 0.0
        self._pending_ids: list[int] = []  # ingest log ids folded since the last flush
        self._held_upto = 0  # the newest id whose coarse share the aggregator holds for the coarse flush
        self._wm = watermark.Watermarks(0, 0)  # this collector's rollup watermarks as last read or written
        # On SQLite this process is the only writer, so stream marks it has read stay true and are
        # cached; a shared store (PostgreSQL) is read under row locks on every commit instead.
        self._shared = engine.dialect.name != "sqlite"
        self._hwm: dict[tuple[str, str], int] = {}
        self._host_statements: dict[tuple[str, ...], Any] = {}
        self._stopping = threading.Event()
        # Called by the writer once the queue has room again (see when_room).
        self._room_lock = threading.Lock()
        self._room_waiters: list[Callable[[], object]] = []
        self._flushed = threading.Condition()
        self._flush_requests = 0  # flush_now calls so far
        self._flush_wanted = 0  # the newest request the writer has dequeued
        self._flushed_upto = 0  # the newest request a completed flush has served
        self.stats = {"batches": 0, "duplicates": 0, "samples": 0, "events": 0, "quarantined": 0}
        self._rejected: dict[str, Rejections] = {}  # per host, persisted with the next flush
        # After a failed flush the accumulators are dropped and refolded from the ingest log past the
        # watermark, at a backed-off time: until then nothing is folded or flushed.
        self._refold_at: float | None = None
        self._refold_delay = REFOLD_BACKOFF_S[0]

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
        """Fold batches that are durable but not yet in the rollups (after a crash or a failed flush).

        Rows past the coarse watermark are folded and flushed a chunk at a time, those up to the fine
        watermark into the hourly tier and the latest values only. A row that cannot be decoded is
        copied to the quarantine and passed over; a flush that fails leaves the rest to a later refold
        (backed off), so a poisoned log can neither stall start-up nor flood the log.
        """
        self.aggregator = RollupAggregator(self.retention_s)
        self._pending_ids.clear()
        self._held_upto = 0
        self._refold_at = None
        n = 0
        with self.engine.connect() as conn:
            self._wm = watermark.read(conn, self.collector_id)
        after, fine_upto = self._wm.coarse, self._wm.fine
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(ingest_log.c.id, ingest_log.c.host_id, ingest_log.c.payload)
                    .where(ingest_log.c.collector_id == self.collector_id, ingest_log.c.id > after)
                    .order_by(ingest_log.c.id).limit(RECOVER_CHUNK)).all()
            if not rows:
                break
            now = self.clock()
            for row in rows:
                try:
                    flat = flatten(logged_samples(row.payload))
                except (DecodeError, MalformedSamples) as e:
                    self._quarantine_log_row(row.id, row.host_id, row.payload, e)
                else:
                    self.aggregator.fold(row.host_id, None, now, flat, fine=row.id > fine_upto)
                self._pending_ids.append(row.id)
                n += 1
            after = rows[-1].id
            if not self._flush(serves=self._flush_wanted):
                return n
        if n:
            log.info("event=recover batches=%d watermark=%d coarse_watermark=%d", n, self._wm.fine,
                     self._wm.coarse)
        self._refold_delay = REFOLD_BACKOFF_S[0]
        return n

    def _quarantine_log_row(self, row_id: int, host_id: str, payload: bytes, error: Exception) -> None:
        log.error("event=ingest_log_row_undecodable id=%d host=%s error=%r; quarantined", row_id, host_id, str(error))
        entry = quarantined.Entry(self.collector_id, host_id, "", 0, "ingest_log", int(self.clock() * 1000),
                                  f"ingest log row {row_id} cannot be decoded: {error}", payload)
        try:
            with self.engine.begin() as conn:
                quarantined.put(conn, entry)
            metrics.quarantined_batches.inc()
        except Exception:
            log.exception("event=quarantine_failed ingest_log_id=%d", row_id)

    # ------------------------------------------------------------------ producer side

    def submit(self, item: Batch | HostUpdate, timeout: float | None = None) -> None:
        """Queue an item; blocks while the queue is full (backpressure)."""
        self.queue.put(item, timeout=timeout)
        metrics.ingest_queue_depth.set(self.queue.qsize())

    def when_room(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the queue has room: now if it has, else from the writer thread when it
        next takes items. Lets a producer that must not block wait without a thread of its own."""
        with self._room_lock:
            full = self.queue.full()
            if full:
                self._room_waiters.append(callback)
        if not full:
            callback()

    def _announce_room(self) -> None:
        if self._room_waiters:
            with self._room_lock:
                waiters, self._room_waiters = self._room_waiters, []
            for callback in waiters:
                callback()

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
        self._last_flush = self._last_coarse_flush = time.monotonic()
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
            self._announce_room()
            metrics.ingest_queue_depth.set(self.queue.qsize())
            if group:
                self._commit(group)
            stopping = self._stopping.is_set() and self.queue.empty()
            if self._refold_at is not None:
                if stopping or time.monotonic() >= self._refold_at:
                    self.recover()
            else:
                now = time.monotonic()
                # While the writer is behind (a queue at least half full: agents replaying their spools),
                # the 1-minute tier is merged when the pending cells reach their bound, not on the clock:
                # each merge would otherwise rewrite minutes that later batches are still filling.
                behind = self.queue.qsize() * 2 >= self.queue.maxsize
                due = not behind and now - self._last_flush >= self.flush_interval
                requested = self._flush_wanted > self._flushed_upto
                held = self.aggregator.held_cells > self.max_pending_cells
                coarse = stopping or requested or held or now - self._last_coarse_flush >= self.coarse_flush_interval
                if due or coarse or len(self.aggregator) > self.max_pending_cells:
                    self._flush(serves=self._flush_wanted, coarse=coarse)
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
            new = sorted(keys)
            insert_columns(conn, _STREAMS_HEAD, "ON CONFLICT (host_id, epoch) DO NOTHING",
                           [[h for h, _ in new], [e for _, e in new], [0] * len(new), [now_ms] * len(new)],
                           _STREAMS_TYPES)
            # One lock order for every collector: no deadlocks.
            query = query.order_by(agent_streams.c.host_id, agent_streams.c.epoch).with_for_update()
        found = {(h, e): int(seq) for h, e, seq in conn.execute(query)}
        marks = {key: found.get(key, 0) for key in keys}
        if self._shared:
            return marks
        self._hwm.update(marks)
        return self._hwm

    def _commit(self, group: list[Batch | HostUpdate]) -> None:
        """Commit a group; when the store refuses its data, commit halves so one bad batch fails alone."""
        pending = [group]
        while pending:
            part = pending.pop()
            error = self._commit_group(part)
            if error is None:
                continue
            metrics.store_errors.labels("commit").inc()
            if refused_for_good(error) and len(part) > 1:
                log.warning("event=commit_refused batches=%d error=%r; retrying the group in halves",
                            len(part), str(error).splitlines()[0])
                half = len(part) // 2
                pending += [part[half:], part[:half]]
                continue
            log.error("event=commit_failed items=%d error=%r", len(part), str(error).splitlines()[0])
            for item in part:
                if isinstance(item, Batch) and refused_for_good(error):
                    self._quarantine(item, error)
                elif item.done is not None:
                    item.done(Outcome.FAILED)

    def _commit_group(self, group: list[Batch | HostUpdate]) -> BaseException | None:
        """One transaction for the group; the exception when the store refused it (nothing reported then)."""
        t0 = time.perf_counter()
        now_ms = int(self.clock() * 1000)
        accepted: list[Batch] = []
        duplicates: list[Batch] = []
        host_updates = [g for g in group if isinstance(g, HostUpdate)]
        batches = [g for g in group if isinstance(g, Batch)]
        new_hwm: dict[tuple[str, str], int] = {}
        try:
            with self.engine.begin() as conn:
                self._apply_hosts(conn, host_updates, now_ms)
                stored = self._stream_marks(conn, [b for b in batches if b.replay_of is None], now_ms)
                for b in batches:
                    key = (b.host_id, b.epoch)
                    if b.replay_of is not None:
                        quarantined.remove(conn, b.replay_of)
                        accepted.append(b)
                        continue
                    hwm = new_hwm.get(key) or stored.get(key, 0)
                    if b.seq <= hwm:
                        duplicates.append(b)
                        continue
                    new_hwm[key] = b.seq
                    accepted.append(b)
                raw = [b for b in accepted if b.samples is not None]
                ids: list[int] = []
                if raw:
                    ids = [r[0] for r in insert_returning(
                        conn, "INSERT INTO ingest_log (collector_id, host_id, received_ms, payload)", "", "id",
                        [[self.collector_id] * len(raw), [b.host_id for b in raw], [now_ms] * len(raw),
                         [b.raw() for b in raw]], ("text", "text", "int8", "bytea"))]
                ev_rows = [
                    {"host_id": b.host_id, "ts_ms": e.timestamp_ms or e.observed_ms or now_ms, "rule": e.rule,
                     "severity": SEVERITY_NAMES.get(e.severity, "info"), "source": e.source, "line": e.line,
                     "fields": dict(e.fields), "suppressed_before": e.suppressed_before,
                     "collector_id": self.collector_id}
                    for b in accepted if b.events is not None for e in b.events.events
                ]
                if ev_rows:
                    conn.execute(events.insert(), ev_rows)
                self._advance_marks(conn, new_hwm, now_ms)
        except Exception as e:
            for key in new_hwm:
                self._hwm.pop(key, None)
            return e
        if not self._shared:
            self._hwm.update(new_hwm)
        metrics.commit_seconds.observe(time.perf_counter() - t0)
        now_s = self.clock()
        read = [(b.host_id, b.flat if b.flat is not None else flatten(b.samples)) for b in raw]
        if self._refold_at is None:  # else the refold reads them from the ingest log
            n_samples = self.aggregator.fold_many(read, now_s)
        else:
            n_samples = sum(len(flat.stamps) for _, flat in read)
        if self._refold_at is None:
            self._pending_ids.extend(ids)
        n_events = len(ev_rows)
        self.stats["batches"] += len(accepted)
        self.stats["duplicates"] += len(duplicates)
        self.stats["samples"] += n_samples
        self.stats["events"] += n_events
        metrics.samples_accepted.inc(n_samples)
        metrics.events_accepted.inc(n_events)
        metrics.batches_duplicate.inc(len(duplicates))
        for b in accepted:
            if b.rejected:
                self._count_rejected(b.host_id, b.rejected)
        for hu in host_updates:
            if hu.done is not None:
                hu.done(Outcome.ACCEPTED)
        for b in accepted:
            b.done(Outcome.ACCEPTED)
        for b in duplicates:
            b.done(Outcome.DUPLICATE)
        return None

    def _advance_marks(self, conn: Any, new_hwm: dict[tuple[str, str], int], now_ms: int) -> None:
        if not new_hwm:
            return
        marks = sorted(new_hwm.items())  # row locks in key order on PostgreSQL
        insert_columns(conn, _STREAMS_HEAD,
                       "ON CONFLICT (host_id, epoch) DO UPDATE SET last_seq = excluded.last_seq, "
                       "updated_ms = excluded.updated_ms WHERE excluded.last_seq > agent_streams.last_seq",
                       [[k[0] for k, _ in marks], [k[1] for k, _ in marks], [v for _, v in marks],
                        [now_ms] * len(marks)], _STREAMS_TYPES)

    def _count_rejected(self, host_id: str, rejected: Rejections) -> None:
        self._rejected.setdefault(host_id, Rejections()).add(rejected)
        for reason, n in rejected.samples.items():
            metrics.rejected_samples.labels(reason).inc(n)
        for reason, n in rejected.events.items():
            metrics.rejected_events.labels(reason).inc(n)

    def _quarantine(self, b: Batch, error: BaseException) -> None:
        """Keep a batch the store refused for good, and mark its seq as done so the agent moves on."""
        reason = f"{type(error).__name__}: {str(error).splitlines()[0][:2000]}"
        now_ms = int(self.clock() * 1000)
        key = (b.host_id, b.epoch)
        try:
            with self.engine.begin() as conn:
                if b.replay_of is not None:
                    quarantined.set_reason(conn, b.replay_of, reason)
                elif b.seq > MAX_SEQ:  # cannot be a stream mark either: kept, but not deduplicated
                    quarantined.put(conn, quarantined.Entry(
                        self.collector_id, b.host_id, b.epoch, 0, b.kind(), now_ms, f"seq {b.seq}: {reason}", b.raw()))
                else:
                    if b.seq <= self._stream_marks(conn, [b], now_ms).get(key, 0):
                        b.done(Outcome.DUPLICATE)
                        return
                    quarantined.put(conn, quarantined.Entry(
                        self.collector_id, b.host_id, b.epoch, b.seq, b.kind(), now_ms, reason, b.raw()))
                    self._advance_marks(conn, {key: b.seq}, now_ms)
        except Exception:
            self._hwm.pop(key, None)
            log.exception("event=quarantine_failed host=%s seq=%d", b.host_id, b.seq)
            b.done(Outcome.FAILED)
            return
        if not self._shared and b.replay_of is None and b.seq <= MAX_SEQ:
            self._hwm[key] = b.seq
        self.stats["quarantined"] += 1
        metrics.quarantined_batches.inc()
        log.error("event=batch_quarantined host=%s epoch=%s seq=%d reason=%r", b.host_id, b.epoch, b.seq, reason)
        b.done(Outcome.QUARANTINED)

    def _apply_hosts(self, conn: Any, updates: list[HostUpdate], now_ms: int) -> None:
        """Upsert the hosts in order; consecutive updates that set the same columns share one executemany."""
        run: list[dict[str, Any]] = []
        run_keys: tuple[str, ...] = ()
        for hu in updates:
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
            keys = tuple(values)
            if run and keys != run_keys:
                conn.execute(self._host_upsert(conn, run_keys), run)
                run = []
            run_keys = keys
            run.append({"id": hu.host_id, "first_seen_ms": seen, "last_data_ms": 0, "facts": {}, "agent_version": "",
                        "connected": False, **values})
            if hu.connected is False:
                conn.execute(self._host_upsert(conn, run_keys), run)
                run = []
                # Only the collector holding the stream may mark it gone: after a move, the old
                # collector's late disconnect must not hide the new connection.
                conn.execute(update(hosts).where(hosts.c.id == hu.host_id, hosts.c.connected_to == self.collector_id)
                             .values(connected=False, connected_to=None))
        if run:
            conn.execute(self._host_upsert(conn, run_keys), run)

    def _host_upsert(self, conn: Any, keys: tuple[str, ...]) -> Any:
        """``INSERT … ON CONFLICT (id) DO UPDATE`` of the columns ``keys`` (an upsert: the same host may
        appear at two collectors of a group at the same moment); built once per column set."""
        stmt = self._host_statements.get(keys)
        if stmt is None:
            ins = _insert(conn, hosts)
            stmt = self._host_statements[keys] = ins.on_conflict_do_update(
                index_elements=[hosts.c.id], set_={k: ins.excluded[k] for k in keys})
        return stmt

    def _flush(self, serves: int = 0, coarse: bool = True) -> bool:
        """Merge the accumulated rollups into the store: the 1-minute tier, and with ``coarse`` also the
        hourly tier and the latest values. ``serves``: the flush_now request a coarse flush answers.

        False when it failed: the accumulators are then dropped and a refold from the ingest log is
        scheduled, backed off, so a store that keeps refusing costs one attempt per delay.
        """
        t0 = time.perf_counter()
        self._last_flush = time.monotonic()
        seen = self._seen
        self._seen = {}
        rejected = self._rejected
        self._rejected = {}
        last_data = dict(self.aggregator.last_data_ms)
        try:
            with self.engine.begin() as conn:
                written = self.aggregator.flush(conn, coarse=coarse)
                upto = max(self._pending_ids, default=0)
                held = max(self._held_upto, upto)
                new_wm = watermark.Watermarks(max(self._wm.fine, upto),
                                              max(self._wm.coarse, held) if coarse else self._wm.coarse)
                if new_wm != self._wm:
                    watermark.advance(conn, self.collector_id, self._wm, new_wm)
                for column, values in (("last_seen_ms", seen), ("last_data_ms", last_data)):
                    raise_column(conn, "hosts", column, "id", values)
                add_rejected(conn, rejected)
        except Exception as e:
            # The raw batches are durable; dropping the accumulators would lose them from the rollups,
            # so forget them and refold from the ingest log past the watermark.
            metrics.store_errors.labels("flush").inc()
            if isinstance(e, watermark.WatermarkMoved):
                log.warning("event=watermark_moved (another collector folded our batches); refolding")
            else:
                log.error("event=flush_failed error=%r; refolding from the ingest log in %.0f s",
                          str(e).splitlines()[0], self._refold_delay)
            self.aggregator = RollupAggregator(self.retention_s)
            self._pending_ids.clear()
            self._held_upto = 0
            for host, seen_ms in seen.items():
                self._seen.setdefault(host, seen_ms)
            for host, counts in rejected.items():
                self._rejected.setdefault(host, Rejections()).add(counts)
            self._refold_at = time.monotonic() + self._refold_delay
            self._refold_delay = min(self._refold_delay * 2, REFOLD_BACKOFF_S[1])
            return False
        self._wm = new_wm
        self._pending_ids.clear()
        self._held_upto = 0 if coarse else held
        self.aggregator.last_data_ms.clear()
        metrics.rollup_rows_written.inc(written)
        metrics.flush_seconds.observe(time.perf_counter() - t0)
        if not coarse:
            return True
        self._last_coarse_flush = time.monotonic()
        with self._flushed:
            self._flushed_upto = max(self._flushed_upto, serves)
            self._flushed.notify_all()
        return True

    def run_retention(self) -> None:
        """Delete what is past retention (the ``retention`` job, on every collector of a group):
        this collector's raw batches that are folded and exported, old rollups and old events."""
        with self.engine.begin() as conn:
            self._retention(conn)

    def _retention(self, conn: Any) -> None:
        now = self.clock()
        # Only batches up to the coarse watermark are in every stored tier; the others are not yet.
        expire_raw(conn, self.collector_id, self._wm.coarse, int((now - self.retention_s["raw"]) * 1000))
        for tier in TIERS:
            floor = int(now - self.retention_s[tier.name])
            conn.execute(delete(tier.table).where(tier.table.c.bucket < floor))
            expire_blocks(conn, tier, floor)
        old_events = [events.c.ts_ms < int((now - self.retention_s["events"]) * 1000)]
        keep_events = events_keep_from(conn, int(now * 1000))
        if keep_events is not None:
            old_events.append(events.c.id < keep_events)
        conn.execute(delete(events).where(*old_events))


def add_rejected(conn: Any, counts: dict[str, Rejections]) -> None:
    """Add drop counts to the hosts' totals (a read-modify-write under the row lock on PostgreSQL)."""
    for host_id in sorted(counts):
        query = select(hosts.c.rejected).where(hosts.c.id == host_id)
        if conn.dialect.name != "sqlite":
            query = query.with_for_update()
        total = Rejections.from_dict(conn.execute(query).scalar_one_or_none())
        total.add(counts[host_id])
        conn.execute(update(hosts).where(hosts.c.id == host_id).values(rejected=total.as_dict()))


def expire_raw(conn: Any, collector_id: str, folded_upto: int, older_than_ms: int) -> int:
    """Delete a collector's raw batches that are in the rollups, exported, and past retention."""
    raw = [ingest_log.c.collector_id == collector_id, ingest_log.c.id <= folded_upto,
           ingest_log.c.received_ms < older_than_ms]
    keep = raw_keep_from(conn, collector_id)  # the InfluxDB export has not delivered these yet
    if keep is not None:
        raw.append(ingest_log.c.id < keep)
    return int(conn.execute(delete(ingest_log).where(*raw)).rowcount or 0)
