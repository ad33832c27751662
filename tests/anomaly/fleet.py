"""A simulated fleet's history in a real SQLite store, ingested through the collector's ingest path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from collector.ingest import Batch, HostUpdate, Ingestor
from collector.simulator import HistorySchedule, TroubleSpec, encoded_batches
from collector.store.engine import open_engine
from collector.store.samples import samples_of
from protos.patrol.v1 import agent_pb2 as pb

DAY = 86400.0
# Minute rollups for the whole test history, so every evaluation instant reads the same tier.
RETENTION = {"raw": DAY, "1m": 90 * DAY, "1h": 730 * DAY, "events": 90 * DAY}


def fleet_store(tmp: Path, agents: int, days: int, end: datetime, seed: int = 1) -> tuple[Engine, Ingestor, list[str]]:
    """A store holding ``days`` of 10-minute history of a simulated fleet (with its usual trouble)."""
    now = end.timestamp()
    engine = open_engine(f"sqlite:///{tmp / 'metrics.sqlite'}")
    ing = Ingestor(engine, "c1", RETENTION, clock=lambda: now)
    schedule = HistorySchedule(history=timedelta(days=days), step=timedelta(minutes=10),
                               coarse_step=timedelta(minutes=10))
    batches: list[Batch | HostUpdate] = []
    for agent_id, data in encoded_batches(agents=agents, customers=2, seed=seed, schedule=schedule, end=end,
                                          trouble=TroubleSpec()):
        samples = samples_of(pb.AgentMessage.FromString(data))
        if samples is not None:
            batches.append(Batch(host_id=agent_id, epoch="e", seq=samples.seq, done=lambda _: None,
                                 samples=samples, payload=data))
    hosts = sorted({b.host_id for b in batches})
    ing._commit([HostUpdate(host_id=h, customer_id="acme", hostname=f"{h}.example") for h in hosts])
    for i in range(0, len(batches), 200):
        ing._commit(batches[i:i + 200])
    ing._flush()
    return engine, ing, hosts


def add_samples(ing: Ingestor, host: str, name: str, points: Sequence[tuple[float, float]], seq: int) -> None:
    """Extra samples of one series of one host, as an agent would send them."""
    samples = pb.Samples(seq=seq, series=[pb.Series(name=name, timestamps_ms=[int(t * 1000) for t, _ in points],
                                                    values=[v for _, v in points])])
    ing._commit([Batch(host_id=host, epoch="e", seq=seq, done=lambda _: None, samples=samples,
                       payload=samples.SerializeToString())])
    ing._flush()
