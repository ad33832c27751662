"""Agent traffic for the export tests, sent over real gRPC, and the points it must produce in the TSDB."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import grpc

from collector.export.lineprotocol import split_series_name
from collector.simulator import HistorySchedule, encoded_batches
from collector.store.samples import flatten, samples_of
from protos.patrol.v1 import agent_pb2 as pb
from tests.export.vm import Points

METHOD = "/patrol.v1.AgentService/Connect"


@dataclass
class Traffic:
    """Per agent: its Hello, then its data batches (seq 1, 2, …) as encoded ``AgentMessage`` bytes."""

    hellos: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, list[bytes]] = field(default_factory=dict)

    @property
    def customers(self) -> list[str]:
        return sorted({pb.AgentMessage.FromString(h).hello.customer for h in self.hellos.values()})

    def part(self, index: int, parts: int) -> Traffic:
        """The index-th of ``parts`` consecutive slices of every agent's batches (each with the Hello)."""
        out = Traffic(dict(self.hellos))
        for agent, msgs in self.batches.items():
            lo, hi = len(msgs) * index // parts, len(msgs) * (index + 1) // parts
            out.batches[agent] = msgs[lo:hi]
        return out

    def samples(self) -> int:
        return sum(len(flatten(m.sample_columns).values) for m in self._messages("sample_columns"))

    def _messages(self, kind: str) -> list[pb.AgentMessage]:
        out = []
        for msgs in self.batches.values():
            for data in msgs:
                msg = pb.AgentMessage.FromString(data)
                if msg.WhichOneof("payload") == kind:
                    out.append(msg)
        return out

    def expected(self) -> Points:
        """What VictoriaMetrics must hold: ``<measurement>_<field>`` with the tags as labels."""
        out: Points = {}
        for agent, msgs in self.batches.items():
            hello = pb.AgentMessage.FromString(self.hellos[agent]).hello
            ident = {"customer": hello.customer, "host": hello.hostname, "host_id": agent}
            for data in msgs:
                samples = samples_of(pb.AgentMessage.FromString(data))
                if samples is None:
                    continue
                flat = flatten(samples)
                at = 0
                for name, pairs, n in zip(flat.names, flat.labels, flat.sizes, strict=True):
                    group, fld = split_series_name(name)
                    labels = frozenset({**ident, **{k: v for k, v in pairs if v}}.items())
                    out.setdefault((f"{group}_{fld}", labels), Counter()).update(
                        zip(flat.stamps[at:at + n].tolist(), flat.values[at:at + n].tolist(), strict=True))
                    at += n
        return out


def fleet(agents: int, minutes: int, seed: int = 7, batch_samples: int = 600) -> Traffic:
    traffic = Traffic()
    schedule = HistorySchedule(history=timedelta(minutes=minutes), step=timedelta(seconds=10),
                               coarse_step=timedelta(seconds=10))
    for agent, data in encoded_batches(agents=agents, customers=2, seed=seed, batch_samples=batch_samples,
                                       schedule=schedule):
        if agent not in traffic.hellos:
            traffic.hellos[agent] = data
            traffic.batches[agent] = []
        else:
            traffic.batches[agent].append(data)
    return traffic


async def _send_agent(channel: grpc.aio.Channel, hello: bytes, batches: list[bytes]) -> None:
    call = channel.stream_stream(METHOD, request_serializer=None,
                                 response_deserializer=pb.CollectorMessage.FromString)()
    await call.write(hello)
    if not batches:
        await call.done_writing()
        call.cancel()
        return
    last = max(_seq(b) for b in batches)
    for data in batches:
        await call.write(data)
    async for msg in call:
        if msg.WhichOneof("payload") == "ack" and msg.ack.seq >= last:
            break
    await call.done_writing()
    call.cancel()


def _seq(data: bytes) -> int:
    msg = pb.AgentMessage.FromString(data)
    samples = samples_of(msg)
    return samples.seq if samples is not None else msg.events.seq


async def _send(target: str, traffic: Traffic) -> None:
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_send_message_length", 64 * 2**20)]) as ch:
        await asyncio.gather(*(_send_agent(ch, traffic.hellos[a], b) for a, b in traffic.batches.items()))


def send(target: str, traffic: Traffic) -> None:
    """Stream every agent's batches to the collector and return once all are acked (durable)."""
    asyncio.run(asyncio.wait_for(_send(target, traffic), timeout=120))
