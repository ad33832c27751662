"""A stream that goes silent after its Hello is ended once ``limits.idle_timeout`` passes; one that
heartbeats is not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from protos.patrol.v1 import agent_pb2 as pb
from tests.collector_core.inprocess import METHOD, hello, now_ms, running_collector, samples, series

pytestmark = pytest.mark.integration

LIMITS = {"hello_timeout": "2s", "idle_timeout": "1s"}
HEARTBEAT = pb.AgentMessage(heartbeat=pb.Heartbeat()).SerializeToString()


async def talk(port: int, messages: AsyncIterator[bytes]) -> list[pb.CollectorMessage]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.stream_stream(METHOD, request_serializer=None,
                                response_deserializer=pb.CollectorMessage.FromString)(messages, timeout=30)
        return [m async for m in call]


def test_a_silent_stream_is_ended_and_a_heartbeating_one_is_not(tmp_path: Path) -> None:
    async def silent() -> AsyncIterator[bytes]:
        yield hello("silent")
        await asyncio.sleep(20)  # says nothing more; the collector ends the stream long before

    async def heartbeating() -> AsyncIterator[bytes]:
        yield hello("beating")
        for _ in range(8):  # 2.4 s in all, well past the idle timeout, never silent for as long
            await asyncio.sleep(0.3)
            yield HEARTBEAT
        yield samples(1, [series("cpu.busy_percent", [(now_ms(), 5.0)])])

    async def scenario() -> None:
        async with running_collector(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, limits=LIMITS) as app:
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await talk(app.grpc_port, silent())
            assert ended.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
            assert "limits.idle_timeout" in (ended.value.details() or "")
            answers = await talk(app.grpc_port, heartbeating())
            assert [m.ack.seq for m in answers if m.WhichOneof("payload") == "ack"][-1] == 1

    asyncio.run(scenario())
