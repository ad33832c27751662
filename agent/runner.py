"""The agent's main loop: run collectors on their intervals, spool batches, keep the stream going."""

from __future__ import annotations

import logging
import math
import platform
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from agent import __version__
from agent.batch import BatchBuilder
from agent.collectors import build_collectors
from agent.config import AgentConfig
from agent.diagnostics.handler import DiagnosticsHandler
from agent.facts import collect_facts, facts_fingerprint
from agent.footprint import FootprintCollector
from agent.logs import LogEvent, LogWatcher, to_proto
from agent.model import Collector, Sample
from agent.probes import build_probes
from agent.spool import RecordKind, Spool
from agent.transport import Transport, spool_stats_pb
from protos.patrol.v1 import agent_pb2 as pb

log = logging.getLogger("patrol.agent")

MAX_EVENTS_PER_BATCH = 500


class Agent:
    def __init__(self, cfg: AgentConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.clock = clock
        self.agent_id = cfg.resolved_agent_id()
        self.hostname = cfg.resolved_hostname()
        self.spool = Spool(cfg.spool.dir, max_bytes=cfg.spool.max_bytes,
                           max_age=timedelta(seconds=cfg.spool.max_age),
                           segment_bytes=cfg.spool.segment_bytes, fsync=cfg.spool.fsync)
        self.collectors: list[tuple[Collector, float]] = build_collectors(cfg.collectors)
        self.collectors.append((FootprintCollector(self.spool.stats), cfg.batch_interval))
        # Probes wait on the network (up to their timeouts), so they run on a thread of their own and
        # a dead endpoint cannot delay the metric collectors.
        self.probes: list[tuple[Collector, float]] = build_probes(cfg.probes)
        self.builder = BatchBuilder()
        self._builder_lock = threading.Lock()
        self.facts = collect_facts(__version__)
        self._facts_fp = facts_fingerprint(self.facts)
        self.diagnostics = DiagnosticsHandler.for_agent(self)
        self.transport = Transport(cfg, self.spool, self._hello, on_message=self.diagnostics.handle)
        self.stopping = threading.Event()
        self.logs: LogWatcher | None = None
        if cfg.logs.enabled:
            state_dir = cfg.logs.state_dir or cfg.spool.dir.parent / f"{cfg.spool.dir.name}-log-state"
            self.logs = LogWatcher.from_config(cfg.logs, host=self.hostname, state_dir=state_dir)

    def _hello(self) -> pb.Hello:
        return pb.Hello(agent_id=self.agent_id, hostname=self.hostname, customer=self.cfg.customer,
                        labels=self.cfg.labels, version=__version__, facts=self.facts,
                        capabilities=["samples", "events", "facts", "diagnostics"], spool_epoch=self.spool.epoch,
                        acked_seq=self.spool.stats().acked_seq, spool=spool_stats_pb(self.spool.stats()))

    def flush(self) -> int | None:
        """Write whatever was collected into the spool as one batch; the seq, or None when empty."""
        with self._builder_lock:
            if not len(self.builder):
                return None
            batch = self.builder.take_batch()
        stats = spool_stats_pb(self.spool.stats())  # not inside encode: the spool holds its lock there
        seq = self.spool.append_with(lambda seq: batch.encode(seq, stats), RecordKind.SAMPLES, batch.count)
        self.transport.notify()
        if self.cfg.trace_file is not None:
            with open(self.cfg.trace_file, "a") as f:
                f.write(f"{seq} {batch.count} {batch.value_sum()!r}\n")
        return seq

    def spool_events(self, events: list[LogEvent]) -> None:
        """Spool log events as their own batches (same seqs as samples: same durability, same dedup)."""
        for i in range(0, len(events), MAX_EVENTS_PER_BATCH):
            chunk = [to_proto(e) for e in events[i:i + MAX_EVENTS_PER_BATCH]]

            def encode(seq: int, chunk: list[pb.Event] = chunk) -> bytes:
                return pb.AgentMessage(events=pb.Events(seq=seq, events=chunk)).SerializeToString()

            self.spool.append_with(encode, RecordKind.EVENTS, len(chunk))
        self.transport.notify()

    def _poll_logs(self, final: bool = False) -> None:
        if self.logs is None:
            return
        events = self.logs.drain() if final else self.logs.poll()
        if events:
            self.spool_events(events)
        # Positions advance only once the events are in the spool: a crash in between resends them.
        self.logs.commit()

    def _check_facts(self) -> None:
        facts = collect_facts(__version__)
        fp = facts_fingerprint(facts)
        if fp != self._facts_fp:
            self.facts, self._facts_fp = facts, fp
            self.transport.send(pb.AgentMessage(facts=facts))
            log.info("event=facts_changed")

    def _add(self, ts_ms: int, samples: list[Sample]) -> None:
        with self._builder_lock:
            self.builder.add(ts_ms, samples)

    def _schedule(self, collectors: list[tuple[Collector, float]]) -> None:
        """Run ``collectors`` on their intervals until stopped (the probe thread)."""
        now = time.monotonic()
        due = [now for _ in collectors]
        while not self.stopping.is_set() and collectors:
            now = time.monotonic()
            for i, (collector, interval) in enumerate(collectors):
                if now >= due[i]:
                    self._collect(collector)
                    due[i] += interval * max(1, int((now - due[i]) // interval) + 1)
            self.stopping.wait(max(0.0, min(due) - time.monotonic()))

    def run(self) -> None:
        """Run until :meth:`stop`; on the way out everything collected is in the spool."""
        log.info("event=agent_start agent_id=%s customer=%s collector=%s collectors=%s python=%s spool=%s",
                 self.agent_id, self.cfg.customer, self.cfg.collector,
                 ",".join(c.name for c, _ in self.collectors), platform.python_version(), self.cfg.spool.dir)
        self.transport.start()
        probe_thread = None
        if self.probes:
            probe_thread = threading.Thread(target=self._schedule, args=(self.probes,), name="patrol-probes",
                                            daemon=True)
            probe_thread.start()
        now = time.monotonic()
        due = [now for _ in self.collectors]
        next_flush = now + self.cfg.batch_interval
        next_facts = now + self.cfg.facts_interval
        next_logs = now
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                for i, (collector, interval) in enumerate(self.collectors):
                    if now >= due[i]:
                        self._collect(collector)
                        # Stay on the grid: a slow round does not shift later rounds.
                        due[i] += interval * max(1, int((now - due[i]) // interval) + 1)
                if now >= next_logs:
                    self._poll_logs()
                    # Nothing to follow on this host (no globs, no journal): no wake-up every second.
                    reading = self.logs is not None and self.logs.reading
                    next_logs = now + self.cfg.log_poll_interval if reading else math.inf
                if now >= next_flush:
                    if self.logs is not None:
                        self._add(int(self.clock() * 1000), self.logs.samples())
                    self.flush()
                    step = self.cfg.batch_interval
                    next_flush += step * max(1, int((now - next_flush) // step) + 1)
                if now >= next_facts:
                    self._check_facts()
                    next_facts = now + self.cfg.facts_interval
                wake = min([*due, next_flush, next_facts, next_logs if self.logs else next_flush])
                self.stopping.wait(max(0.0, wake - time.monotonic()))
        finally:
            if probe_thread is not None:
                probe_thread.join(timeout=10)
            self._poll_logs(final=True)
            if self.logs is not None:
                self.logs.close()
            self.flush()
            self.diagnostics.close()
            self.transport.stop()
            self.spool.close()
            log.info("event=agent_stopped spool_batches=%d", self.spool.stats().depth_batches)

    def _collect(self, collector: Collector) -> None:
        ts_ms = int(self.clock() * 1000)
        try:
            samples = collector.collect()
        except Exception as e:
            log.warning("event=collector_failed collector=%s error=%r", collector.name, e)
            return
        self._add(ts_ms, samples)

    def stop(self) -> None:
        self.stopping.set()
