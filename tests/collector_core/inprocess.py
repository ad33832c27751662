"""A real collector (gRPC server, ingest writer, store) in the test's own event loop, and raw clients."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import grpc

from collector.app import CollectorApp
from collector.config import CollectorConfig
from protos.patrol.v1 import agent_pb2 as pb

METHOD = "/patrol.v1.AgentService/Connect"


def collector_config(store_url: str, data_dir: Path, **overrides: Any) -> CollectorConfig:
    cfg: dict[str, Any] = {"data_dir": str(data_dir), "listen": "127.0.0.1:0", "insecure": True,
                           "store": {"url": store_url, "flush_interval": "0.5s"},
                           "limits": {"hello_timeout": "2s"},
                           "customers": [{"id": "acme", "name": "ACME Corp"}]}
    cfg.update(overrides)
    return CollectorConfig.model_validate(cfg)


@contextlib.asynccontextmanager
async def running_collector(store_url: str, data_dir: Path, **overrides: Any) -> AsyncIterator[CollectorApp]:
    app = CollectorApp(collector_config(store_url, data_dir, **overrides))
    await app.start(api=False)
    try:
        yield app
    finally:
        await app.stop(grace=1.0)


def now_ms() -> int:
    return int(time.time() * 1000)


def hello(agent_id: str, epoch: str | None = None) -> bytes:
    return pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, hostname=agent_id, customer="acme",
                                          spool_epoch=epoch or uuid.uuid4().hex)).SerializeToString()


def samples(seq: int, series: Iterable[pb.Series]) -> bytes:
    return pb.AgentMessage(samples=pb.Samples(seq=seq, series=list(series))).SerializeToString()


def series(name: str, points: Iterable[tuple[int, float]], **labels: str) -> pb.Series:
    pts = list(points)
    return pb.Series(name=name, labels=labels, timestamps_ms=[t for t, _ in pts], values=[v for _, v in pts])


def events(seq: int, evs: Iterable[pb.Event]) -> bytes:
    return pb.AgentMessage(events=pb.Events(seq=seq, events=list(evs))).SerializeToString()


async def converse(app: CollectorApp, messages: list[bytes], timeout: float = 30) -> list[pb.Ack]:
    """Send the messages on one stream, close it, and return the acks (raises grpc.aio.AioRpcError)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as ch:
        call = ch.stream_stream(METHOD, request_serializer=None,
                                response_deserializer=pb.CollectorMessage.FromString)(iter(messages), timeout=timeout)
        return [m.ack async for m in call if m.WhichOneof("payload") == "ack"]


def rejected_in(acks: list[pb.Ack]) -> tuple[dict[str, int], dict[str, int]]:
    """The drops the acks reported, summed by reason: (samples, events)."""
    s: dict[str, int] = {}
    e: dict[str, int] = {}
    for a in acks:
        for k, v in a.rejected_samples.items():
            s[k] = s.get(k, 0) + v
        for k, v in a.rejected_events.items():
            e[k] = e.get(k, 0) + v
    return s, e
