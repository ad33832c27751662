"""A minimal, real ``grpc.aio`` AgentService for testing the simulator's client.

It keeps what a collector must keep — batches per (agent, epoch, seq), deduplicated — and acks
cumulatively. Faults are switchable: drop the stream (UNAVAILABLE) after some batches without
acking them, say Goodbye, reject agents, or hold acks back.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc

from protos.patrol.v1 import agent_pb2


@dataclass
class Faults:
    drop_after: int | None = None  # end the stream with UNAVAILABLE after this many data batches on it …
    drops_per_agent: int = 0  # … at most this many times per agent
    goodbye_after: int | None = None  # say Goodbye (and end the stream) after this many data batches …
    goodbyes_per_agent: int = 0
    reject: grpc.StatusCode | None = None  # abort every stream after Hello with this status
    ack_delay: float = 0.0  # seconds before each ack
    diagnose: bool = False  # send a DiagnosticRequest right after Hello


@dataclass
class AgentLog:
    hellos: list[agent_pb2.Hello] = field(default_factory=list)
    received: list[int] = field(default_factory=list)  # seqs in arrival order, duplicates included
    batches: dict[int, agent_pb2.AgentMessage] = field(default_factory=dict)  # durable, by seq
    acked: int = 0
    max_unacked_seen: int = 0
    drops: int = 0
    goodbyes: int = 0
    diagnostic_results: list[agent_pb2.DiagnosticResult] = field(default_factory=list)


class FakeCollector:
    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.agents: dict[str, AgentLog] = defaultdict(AgentLog)
        self.first_messages: list[str] = []
        self.server: grpc.aio.Server | None = None
        self.port = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = grpc.aio.server()
        handler = grpc.method_handlers_generic_handler("patrol.v1.AgentService", {
            "Connect": grpc.stream_stream_rpc_method_handler(
                self.connect, request_deserializer=agent_pb2.AgentMessage.FromString,
                response_serializer=agent_pb2.CollectorMessage.SerializeToString),
        })
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=None)

    async def connect(self, requests: AsyncIterator[agent_pb2.AgentMessage],
                      context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.CollectorMessage]:
        iterator = aiter(requests)
        first = await anext(iterator)
        kind = first.WhichOneof("payload")
        self.first_messages.append(kind or "")
        if kind != "hello":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the first message must be Hello")
        hello = first.hello
        log = self.agents[hello.agent_id]
        log.hellos.append(hello)
        if self.faults.reject is not None:
            await context.abort(self.faults.reject, f"unknown customer {hello.customer!r}")
        if self.faults.diagnose:
            yield agent_pb2.CollectorMessage(diagnostic_request=agent_pb2.DiagnosticRequest(
                request_id="r-1", action="shell", args={"cmd": "uptime"}, requested_by="tester"))
        on_stream = 0
        async for message in iterator:
            kind = message.WhichOneof("payload")
            if kind == "diagnostic_result":
                log.diagnostic_results.append(message.diagnostic_result)
            if kind not in ("samples", "sample_columns", "events"):
                continue
            seq = getattr(message, kind).seq
            log.received.append(seq)
            log.batches.setdefault(seq, message)
            log.max_unacked_seen = max(log.max_unacked_seen, seq - log.acked)
            on_stream += 1
            f = self.faults
            if f.drop_after is not None and on_stream >= f.drop_after and log.drops < f.drops_per_agent:
                log.drops += 1
                await context.abort(grpc.StatusCode.UNAVAILABLE, "simulated collector outage")
            if f.goodbye_after is not None and on_stream >= f.goodbye_after and log.goodbyes < f.goodbyes_per_agent:
                log.goodbyes += 1
                yield agent_pb2.CollectorMessage(goodbye=agent_pb2.Goodbye(reason="draining", retry_after_s=0))
                return
            if f.ack_delay:
                await asyncio.sleep(f.ack_delay)
            # Cumulative ack of the contiguous durable prefix, like the real collector.
            while log.acked + 1 in log.batches:
                log.acked += 1
            yield agent_pb2.CollectorMessage(ack=agent_pb2.Ack(seq=log.acked, spool_epoch=hello.spool_epoch))
