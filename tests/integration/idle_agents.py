"""Agents that connect, say Hello (and optionally flood new series), then stay silent until released."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import httpx

from protos.patrol.v1 import agent_pb2 as pb

METHOD = "/patrol.v1.AgentService/Connect"


def active_streams(api: str) -> int:
    """The collector's open agent streams, from its /metrics."""
    for line in httpx.get(f"{api}/metrics", timeout=10).text.splitlines():
        if line.startswith("patrol_streams_active "):
            return int(float(line.split()[1]))
    return 0


async def idle_agent(port: int, i: int, release: asyncio.Event, series: int = 0) -> str:
    """One agent stream; returns how it ended: "OK" or the gRPC status code and details."""
    agent = f"idle-{i:05d}"
    # Each stream on its own connection, as real agents have.
    options = [("grpc.max_send_message_length", 2**26), ("grpc.use_local_subchannel_pool", 1)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as ch:
        call = ch.stream_stream(METHOD, request_serializer=None, response_deserializer=pb.CollectorMessage.FromString)()
        try:
            await call.write(pb.AgentMessage(hello=pb.Hello(agent_id=agent, hostname=agent, customer="acme",
                                                            spool_epoch=uuid.uuid4().hex)).SerializeToString())
            if series:
                t = int(time.time() * 1000)
                flood = [pb.Series(name="app.requests", labels={"route": f"/r/{k}"}, timestamps_ms=[t], values=[1.0])
                         for k in range(series)]
                await call.write(pb.AgentMessage(samples=pb.Samples(seq=1, series=flood)).SerializeToString())
                await call.read()
            await release.wait()
            await call.done_writing()
            while await call.read() is not grpc.aio.EOF:
                pass
            return "OK"
        except grpc.aio.AioRpcError as e:
            return f"{e.code().name}: {(e.details() or '')[:80]}"
