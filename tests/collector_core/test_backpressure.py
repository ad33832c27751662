"""A full ingest queue: streams wait in line for the writer, and every batch is stored once and acked
when the writer can go on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from collector import metrics
from protos.patrol.v1 import agent_pb2 as pb
from tests.collector_core.inprocess import converse, hello, now_ms, running_collector
from tests.collector_core.inprocess import series as ser
from tests.columns import columns_message

pytestmark = pytest.mark.integration

AGENTS, BATCHES = 30, 20


def _waits() -> float:
    return metrics.ingest_queue_waits._value.get()  # type: ignore[attr-defined]


def test_streams_wait_for_a_full_queue_and_lose_nothing(store_url: str, tmp_path: Path) -> None:
    t = now_ms()

    async def agent(app: object, i: int) -> int:
        batches = [columns_message(pb.Samples(seq=s, series=[ser("cpu.busy_percent", [(t - 1000 * s, float(s))])]))
                   for s in range(1, BATCHES + 1)]
        acks = await converse(app, [hello(f"bp-{i}"), *batches], timeout=60)  # type: ignore[arg-type]
        return acks[-1].seq

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path, limits={"hello_timeout": "2s", "ingest_queue": 16}) as app:
            before = _waits()
            # Another connection holds the store's write lock, so the writer stalls on its first commit
            # and the queue fills up behind it.
            holder = create_engine(store_url).connect()
            if holder.dialect.name == "sqlite":
                holder.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                holder.exec_driver_sql("BEGIN")
                holder.exec_driver_sql("LOCK TABLE ingest_log IN ACCESS EXCLUSIVE MODE")
            streams = asyncio.gather(*(agent(app, i) for i in range(AGENTS)))
            try:
                for _ in range(600):
                    if _waits() > before:
                        break
                    await asyncio.sleep(0.05)
                assert _waits() > before, "no stream found the queue full"
            finally:
                holder.exec_driver_sql("ROLLBACK")
                holder.close()
            assert await streams == [BATCHES] * AGENTS
            app.ingestor.flush_now()
            with app.engine.connect() as conn:
                stored = conn.exec_driver_sql(
                    "SELECT s.host_id, SUM(r.count), SUM(r.sum) FROM rollup_1m r JOIN series s ON s.id = r.series_id "
                    "GROUP BY s.host_id").all()
            total = float(sum(range(1, BATCHES + 1)))
            assert sorted(tuple(r) for r in stored) == sorted((f"bp-{i}", BATCHES, total) for i in range(AGENTS))

    asyncio.run(scenario())
