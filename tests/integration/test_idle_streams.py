"""Thousands of agents connecting at once and then staying idle: each stream reaches the collector,
stays open, and ends cleanly; the collector logs how every stream ended."""

from __future__ import annotations

import asyncio
import collections
import signal
import uuid
from collections.abc import Iterator

import grpc
import httpx
import pytest

from protos.patrol.v1 import agent_pb2 as pb
from tests.integration.harness import CollectorProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
METHOD = "/patrol.v1.AgentService/Connect"
STREAMS = 3000


@pytest.fixture
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("idle"), limits={"hello_timeout": "60s"}).start()
    yield c
    c.kill(signal.SIGTERM)


def active_streams(collector: CollectorProcess) -> int:
    for line in httpx.get(f"{collector.api}/metrics", timeout=10).text.splitlines():
        if line.startswith("patrol_streams_active "):
            return int(float(line.split()[1]))
    return 0


async def idle_agent(port: int, i: int, release: asyncio.Event) -> str:
    agent = f"idle-{i:05d}"
    # One connection per agent, as real agents have.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
        call = ch.stream_stream(METHOD, request_serializer=None, response_deserializer=pb.CollectorMessage.FromString)()
        try:
            await call.write(pb.AgentMessage(hello=pb.Hello(agent_id=agent, hostname=agent, customer="acme",
                                                            spool_epoch=uuid.uuid4().hex)).SerializeToString())
            await release.wait()
            await call.done_writing()
            while await call.read() is not grpc.aio.EOF:
                pass
            return "OK"
        except grpc.aio.AioRpcError as e:
            return e.code().name


def test_a_burst_of_idle_streams_is_served(collector: CollectorProcess) -> None:
    """3,000 streams opened at once used to lose hundreds to CANCELLED or INTERNAL, unlogged: gRPC refused
    calls past 1,000 waiting for the event loop before any handler ran."""

    async def scenario() -> collections.Counter[str]:
        release = asyncio.Event()
        tasks = [asyncio.create_task(idle_agent(collector.grpc_port, i, release)) for i in range(STREAMS)]
        try:
            await asyncio.get_running_loop().run_in_executor(None, lambda: wait_for(
                lambda: active_streams(collector) == STREAMS or all(t.done() for t in tasks), 180,
                "every stream open at the collector", interval=1))
        finally:
            release.set()
        return collections.Counter(await asyncio.gather(*tasks))

    outcomes = asyncio.run(scenario())
    assert outcomes == {"OK": STREAMS}, outcomes
    wait_for(lambda: active_streams(collector) == 0, 120, "every stream closed")
    log = collector.log_path.read_text()
    assert log.count("event=connected") == STREAMS
    assert log.count("event=disconnected") == STREAMS
