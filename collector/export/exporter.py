"""The exporter: tails the store by id, writes line protocol in batches, and moves its cursor on success.

The state store is the durable queue. The exporter reads rows past its cursor into a bounded
in-memory queue, writes them in order in requests of ``batch_size`` points, and advances the cursor
only past rows whose every point the target acknowledged. While the target is down it backs off
exponentially and stops reading once the queue is full: the rest simply waits in the store (raw
retention never deletes rows past the cursor), and export resumes in order from the cursor. The
cursor is persisted about once a second, so a crash re-sends at most the last second or so; points
with the same measurement, tags and timestamp overwrite each other in InfluxDB, so that is harmless.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection, Engine

from collector.export import metrics as m
from collector.export.config import InfluxExport
from collector.export.outcome import Precision, Verdict, WriteResult
from collector.export.sources import Chunk, EventSource, HostDirectory, SampleSource, Source
from collector.store import cursors

log = logging.getLogger("patrol.export")

PAGE_ROWS = 64  # store rows fetched per query; decoding stops as soon as the queue is full
PERSIST_EVERY = 1.0  # seconds between cursor writes (each is a small store transaction)


class Writer(Protocol):
    def write(self, body: str, precision: Precision) -> WriteResult: ...
    def close(self) -> None: ...


class Backoff:
    """Exponential backoff with full jitter between ``initial`` and ``maximum`` seconds."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self, at_least: float | None = None) -> float:
        ceiling = min(self.maximum, self.initial * 2 ** min(self.failures, 30))
        self.failures += 1
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        return min(self.maximum, max(delay, at_least or 0.0))

    def reset(self) -> None:
        self.failures = 0


@dataclass
class StreamState:
    source: Source
    cursor: int  # last row id whose points the target acknowledged
    limit: int  # points per request; halved while the target refuses a request as a whole
    saved: int = -1  # cursor value last written to the store
    read_pos: int = 0  # last row id taken into the queue
    queue: deque[Chunk] = field(default_factory=deque)
    queued: int = 0  # lines in the queue not yet acknowledged
    newest: int = 0  # newest row id seen in the store
    caught_up: bool = False

    @property
    def name(self) -> str:
        return self.source.stream


class TargetDown(Exception):
    def __init__(self, result: WriteResult) -> None:
        super().__init__(f"status={result.status} {result.message}")
        self.result = result


class Exporter:
    def __init__(self, engine: Engine, collector_id: str, cfg: InfluxExport, writer: Writer,
                 clock: Callable[[], float] = time.time, page_rows: int = PAGE_ROWS) -> None:
        self.engine = engine
        self.collector_id = collector_id
        self.cfg = cfg
        self.writer = writer
        self.clock = clock
        self.page_rows = page_rows
        self.backoff = Backoff(cfg.retry_initial, cfg.retry_max)
        hosts = HostDirectory()
        sources: list[Source] = [SampleSource(collector_id, hosts)]
        if cfg.events:
            sources.append(EventSource(collector_id, hosts))
        self._sources = sources
        self.streams: list[StreamState] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_persist = float("-inf")
        self._failing = False

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Load (or place) the cursors. Called by :meth:`start`; tests call it before :meth:`run_once`."""
        if not self.cfg.events:
            cursors.release(self.engine, self.collector_id, (cursors.EVENTS,))
        now_ms = int(self.clock() * 1000)
        with self.engine.begin() as conn:
            for source in self._sources:
                cursor = cursors.load(conn, self.collector_id, source.stream)
                if cursor is None:
                    cursor = source.newest_id(conn) if self.cfg.start_from == "newest" else 0
                    # Saved at once, so raw retention is held back from now on.
                    cursors.save(conn, self.collector_id, source.stream, cursor, now_ms)
                    log.info("event=export_cursor_created stream=%s start_from=%s cursor=%d",
                             source.stream, self.cfg.start_from, cursor)
                self.streams.append(StreamState(source, cursor, self.cfg.batch_size, saved=cursor, read_pos=cursor))
        self._last_persist = time.monotonic()

    def start(self) -> None:
        self.open()
        self._thread = threading.Thread(target=self._run, name="patrol-export", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.cfg.timeout + 10)
            if self._thread.is_alive():
                log.warning("event=export_stop_timeout; the cursor stays where it was last saved")
            self._thread = None
        self.writer.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                more = self.run_once()
                delay = 0.0 if more else self.cfg.flush_interval
            except TargetDown as e:
                delay = self.backoff.next(e.result.retry_after)
                log.warning("event=export_write_failed status=%s attempt=%d retry_in=%.1fs message=%r",
                            e.result.status, self.backoff.failures, delay, e.result.message)
            except Exception:
                delay = self.backoff.next()
                log.exception("event=export_cycle_failed retry_in=%.1fs", delay)
            if delay:
                self._stopping.wait(delay)
        try:
            self.persist(force=True)
        except Exception:
            log.exception("event=export_cursor_save_failed")

    # ------------------------------------------------------------------ one cycle

    def run_once(self) -> bool:
        """Read what fits, write it, save the cursors. True when the store holds more to read right away.

        Raises :class:`TargetDown` when a write must be retried later (nothing is lost: the lines
        stay queued and the cursor where it is).
        """
        with self.engine.connect() as conn:
            for st in self.streams:
                self._fill(conn, st)
        try:
            for st in self.streams:
                self._drain(st)
        finally:
            self._update_gauges()
            self.persist()
        return any(not st.caught_up for st in self.streams)

    def _room(self) -> int:
        return self.cfg.max_queue - sum(st.queued for st in self.streams)

    def _fill(self, conn: Connection, st: StreamState) -> None:
        st.newest = st.source.newest_id(conn)
        if st.newest < st.cursor and not st.queue:
            self._rewind(st)
        # A stream with an empty queue may always take one chunk, so one stream cannot starve another
        # and a single batch larger than the whole queue still moves.
        while st.read_pos < st.newest and (self._room() > 0 or not st.queue):
            took = False
            for chunk in st.source.chunks(conn, st.read_pos, self.page_rows):
                took = True
                st.queue.append(chunk)
                st.queued += len(chunk.lines)
                st.read_pos = chunk.row_id
                if self._room() <= 0:
                    break
            if not took:
                break
        st.caught_up = st.read_pos >= st.newest

    def _rewind(self, st: StreamState) -> None:
        # The row at the cursor is gone: retention ran without the export's floor (export was off for a
        # while, or an older collector). SQLite reuses ids below the largest one left, so follow the
        # table down rather than wait for ids that may already have been handed out again.
        log.warning("event=export_cursor_rewound stream=%s cursor=%d newest=%d", st.name, st.cursor, st.newest)
        st.cursor = st.read_pos = st.newest

    def _batch(self, st: StreamState) -> list[str]:
        lines: list[str] = []
        for chunk in st.queue:
            need = st.limit - len(lines)
            if need <= 0:
                break
            lines.extend(chunk.lines[chunk.offset:chunk.offset + need])
        return lines

    def _drain(self, st: StreamState) -> None:
        while st.queue and not self._stopping.is_set():
            full = self._room() <= 0
            if st.queued < st.limit and not (st.caught_up or full):
                return  # wait for a full batch while more rows are coming
            lines = self._batch(st)
            if not lines:
                self._acknowledge(st, 0)  # chunks without lines (every value NaN) complete at once
                continue
            body = "\n".join(lines)
            t0 = time.perf_counter()
            result = self.writer.write(body, st.source.precision)
            if result.verdict is Verdict.OK:
                m.write_seconds.observe(time.perf_counter() - t0)
                m.points_written.labels(st.name).inc(len(lines))
                m.bytes_written.inc(len(body))
                m.target_up.set(1)
                self._acknowledge(st, len(lines))
                st.limit = min(self.cfg.batch_size, st.limit * 2)
                self.backoff.reset()
                if self._failing:
                    log.info("event=export_resumed stream=%s", st.name)
                    self._failing = False
                continue
            m.write_errors.labels(result.status).inc()
            if result.verdict is Verdict.SPLIT and len(lines) > 1:
                # Refused as a whole (malformed or too large): halve until the bad point is alone.
                st.limit = max(1, len(lines) // 2)
                continue
            if result.verdict in (Verdict.SPLIT, Verdict.DROP):
                reason = "malformed" if result.verdict is Verdict.SPLIT else "unprocessable"
                log.error("event=export_points_dropped stream=%s points=%d status=%s reason=%s message=%r",
                          st.name, len(lines), result.status, reason, result.message)
                m.points_dropped.labels(reason).inc(len(lines))
                self._acknowledge(st, len(lines))
                continue
            m.target_up.set(0)
            self._failing = True
            raise TargetDown(result)

    def _acknowledge(self, st: StreamState, n: int) -> None:
        while st.queue:
            head = st.queue[0]
            take = min(n, len(head.lines) - head.offset)
            head.offset += take
            st.queued -= take
            n -= take
            if head.offset < len(head.lines):
                return
            st.queue.popleft()
            st.cursor = head.row_id
            (m.samples_exported if st.name == cursors.SAMPLES else m.events_exported).inc(head.count)

    # ------------------------------------------------------------------ cursor and gauges

    def persist(self, force: bool = False) -> None:
        """Save moved cursors (about once a second), and refresh them now and then as a heartbeat."""
        now = time.monotonic()
        moved = any(st.cursor != st.saved for st in self.streams)
        due = now - self._last_persist >= (PERSIST_EVERY if moved else cursors.HEARTBEAT_MS / 1000)
        if not (due or (force and moved)):
            return
        now_ms = int(self.clock() * 1000)
        with self.engine.begin() as conn:
            for st in self.streams:
                cursors.save(conn, self.collector_id, st.name, st.cursor, now_ms)
        for st in self.streams:
            st.saved = st.cursor
        self._last_persist = now

    def _update_gauges(self) -> None:
        m.queue_points.set(sum(st.queued for st in self.streams))
        oldest: int | None = None
        for st in self.streams:
            m.cursor_id.labels(st.name).set(st.cursor)
            m.lag_rows.labels(st.name).set(max(0, st.newest - st.cursor))
            if st.queue and st.queue[0].received_ms is not None:
                oldest = st.queue[0].received_ms
        m.lag_seconds.set(max(0.0, self.clock() - oldest / 1000) if oldest is not None else 0.0)


def create_exporter(engine: Engine, collector_id: str, cfg: InfluxExport,
                    clock: Callable[[], float] = time.time) -> Exporter:
    from collector.export.writer import InfluxWriter  # the InfluxDB client loads only when export is on

    return Exporter(engine, collector_id, cfg, InfluxWriter(cfg), clock=clock)
