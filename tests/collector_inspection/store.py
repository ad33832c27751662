"""Filling a real SQLite store through the collector's ingest path, and what it should then hold.

Messages are protocol bytes (from the simulator's ``encoded_batches`` or built by hand) submitted
to a real :class:`collector.ingest.Ingestor`, as the gRPC service would. Alongside, the expected
rollups, latest values and events are computed independently from the same messages.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from collector.ingest import Batch, HostUpdate, Ingestor, Outcome
from collector.server import facts_to_dict
from collector.store.engine import open_engine
from collector.store.samples import flatten, samples_of
from protos.patrol.v1 import agent_pb2 as pb

DAY = 86400.0
RETENTION = {"raw": 2 * DAY, "1m": 14 * DAY, "1h": 730 * DAY, "events": 90 * DAY}
COLLECTOR_ID = "test-collector"
SEVERITY = {0: "info", 1: "info", 2: "warning", 3: "error", 4: "critical"}

LabelsKey = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, str, LabelsKey]  # host, name, labels


@dataclass
class Expected:
    """What the store must answer, per series: bucket start (s) -> [min, max, sum, count, last, last_ts_ms]."""

    buckets: dict[int, dict[SeriesKey, dict[int, list[float]]]] = field(default_factory=dict)  # width -> …
    latest: dict[SeriesKey, tuple[int, float]] = field(default_factory=dict)
    events: dict[str, list[tuple[int, str, str, int]]] = field(default_factory=dict)  # host -> (ts, rule, sev, supp)
    hosts: dict[str, pb.Hello] = field(default_factory=dict)

    def add_samples(self, host: str, samples: pb.Samples) -> None:
        flat = flatten(samples)
        at = 0
        for name, labels, n in zip(flat.names, flat.labels, flat.sizes, strict=True):
            key: SeriesKey = (host, name, labels)
            points = zip(flat.stamps[at:at + n].tolist(), flat.values[at:at + n].tolist(), strict=True)
            at += n
            for ts, value in points:
                for width in (60, 3600):
                    cells = self.buckets.setdefault(width, {}).setdefault(key, {})
                    b = ts // 1000 // width * width
                    cell = cells.get(b)
                    if cell is None:
                        cells[b] = [value, value, value, 1, value, ts]
                    else:
                        cell[0] = min(cell[0], value)
                        cell[1] = max(cell[1], value)
                        cell[2] += value
                        cell[3] += 1
                        if ts >= cell[5]:
                            cell[4], cell[5] = value, ts
                prev = self.latest.get(key)
                if prev is None or ts >= prev[0]:
                    self.latest[key] = (ts, value)

    def add_events(self, host: str, events: pb.Events) -> None:
        for e in events.events:
            self.events.setdefault(host, []).append((e.timestamp_ms or e.observed_ms, e.rule,
                                                     SEVERITY[e.severity], e.suppressed_before))


def open_store(path: Path) -> Engine:
    return open_engine(f"sqlite:///{path}")


def ingest(engine: Engine, messages: Iterable[tuple[str, bytes]], now_s: float,
           expected: Expected | None = None, track: bool = True) -> Expected:
    """Submit protocol messages as the gRPC service would and wait until rollups are flushed;
    ``track=False`` skips computing the expected contents (for big fills)."""
    expected = expected or Expected()
    ingestor = Ingestor(engine, COLLECTOR_ID, RETENTION, flush_interval=3600, clock=lambda: now_s)
    ingestor.start()
    outcomes: list[Outcome] = []
    done_all = threading.Semaphore(0)
    submitted = 0

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        done_all.release()

    epochs: dict[str, str] = {}
    for agent_id, data in messages:
        msg = pb.AgentMessage.FromString(data)
        kind = msg.WhichOneof("payload")
        if kind == "hello":
            hello = msg.hello
            epochs[agent_id] = hello.spool_epoch
            expected.hosts[agent_id] = hello
            ingestor.submit(HostUpdate(host_id=agent_id, customer_id=hello.customer, hostname=hello.hostname,
                                       labels=dict(hello.labels), facts=facts_to_dict(hello.facts),
                                       agent_version=hello.version, connected=True, connected_to=COLLECTOR_ID,
                                       seen_ms=int(now_s * 1000), done=done))
        elif (sent := samples_of(msg)) is not None:
            if track:
                expected.add_samples(agent_id, sent)
            ingestor.submit(Batch(agent_id, epochs[agent_id], sent.seq, done, samples=sent, payload=data))
        elif kind == "events":
            if track:
                expected.add_events(agent_id, msg.events)
            ingestor.submit(Batch(agent_id, epochs[agent_id], msg.events.seq, done, events=msg.events,
                                  payload=data))
        else:
            continue
        submitted += 1
    for _ in range(submitted):
        assert done_all.acquire(timeout=60), "the ingestor did not settle every message in 60 s"
    ingestor.flush_now()
    ingestor.stop()
    assert all(o is Outcome.ACCEPTED for o in outcomes), outcomes
    return expected


def hello(agent_id: str, customer: str, hostname: str, boot_ms: int = 0, labels: dict[str, str] | None = None,
          os: str = "Ubuntu 22.04") -> tuple[str, bytes]:
    facts = pb.Facts(hostname=hostname, os=os, boot_time_ms=boot_ms, cpu_count=4)
    msg = pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, hostname=hostname, customer=customer,
                                         labels=labels or {}, version="test", facts=facts, spool_epoch="e1"))
    return agent_id, msg.SerializeToString()


def samples(agent_id: str, seq: int, series: list[tuple[str, dict[str, str], list[tuple[float, float]]]]
            ) -> tuple[str, bytes]:
    """One Samples batch: ``(name, labels, [(unix seconds, value), …])`` per series."""
    msg = pb.AgentMessage(samples=pb.Samples(seq=seq, series=[
        pb.Series(name=name, labels=labels, timestamps_ms=[int(t * 1000) for t, _ in points],
                  values=[v for _, v in points]) for name, labels, points in series]))
    return agent_id, msg.SerializeToString()


def events(agent_id: str, seq: int, items: list[tuple[float, str, int, int]]) -> tuple[str, bytes]:
    """One Events batch: ``(unix seconds, rule, severity enum, suppressed_before)`` per event."""
    msg = pb.AgentMessage(events=pb.Events(seq=seq, events=[
        pb.Event(timestamp_ms=int(t * 1000), rule=rule, severity=pb.Severity.Name(sev), source="/var/log/syslog",
                 line=f"{rule} line", fields={"n": str(i)}, suppressed_before=supp)
        for i, (t, rule, sev, supp) in enumerate(items)]))
    return agent_id, msg.SerializeToString()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
