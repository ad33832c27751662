"""The real transport against a real gRPC collector that holds its acks while the spool evicts.

The collector receives the first batches, then waits; meanwhile the agent keeps spooling past the
bound, which evicts the batches already on the wire. When the acks come, those batches are known to
have arrived: the drop counter must count exactly the batches the collector never received.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc

from agent.config import AgentConfig
from agent.spool import RecordKind, Spool
from agent.transport import METHOD, Transport
from collector.store.samples import samples_of
from protos.patrol.v1 import agent_pb2 as pb
from tests.agent_spool.helpers import payload_for
from tests.integration.harness import wait_for

HELD = 10  # batches the collector takes before it waits


class HoldingCollector:
    """Takes ``HELD`` batches, acks nothing until :attr:`release` is set, then acks every batch."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    def connect(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[pb.CollectorMessage]:
        epoch = pb.AgentMessage.FromString(next(requests)).hello.spool_epoch
        for raw in requests:
            samples = samples_of(pb.AgentMessage.FromString(raw))
            if samples is None:
                continue  # a heartbeat
            with self.lock:
                self.received.append(samples.seq)
                taken = len(self.received)
            if taken >= HELD:
                self.release.wait(30)
                yield pb.CollectorMessage(ack=pb.Ack(seq=samples.seq, spool_epoch=epoch))


def _serve(collector: HoldingCollector) -> tuple[grpc.Server, int]:
    handler = grpc.stream_stream_rpc_method_handler(
        collector.connect, request_deserializer=None, response_serializer=pb.CollectorMessage.SerializeToString)
    service, method = METHOD.strip("/").split("/")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service, {method: handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def test_the_drop_counter_counts_exactly_what_the_collector_never_received(tmp_path: Path) -> None:
    collector = HoldingCollector()
    server, port = _serve(collector)
    cfg = AgentConfig.model_validate({"customer": "acme", "collector": f"127.0.0.1:{port}", "insecure": True,
                                      "spool": {"dir": str(tmp_path / "spool")},
                                      "transport": {"backoff_initial": 0.1, "backoff_max": 0.5, "window": HELD}})
    spool = Spool(tmp_path / "spool", fsync=False, max_bytes=8_000, segment_bytes=2_000)
    transport = Transport(cfg, spool, lambda: pb.Hello(agent_id="a1", customer="acme", spool_epoch=spool.epoch))

    def append(n: int) -> None:
        for _ in range(n):
            spool.append_with(lambda seq: pb.AgentMessage(samples=pb.Samples(seq=seq, series=[pb.Series(
                name="x", labels={"pad": payload_for(seq, 250).decode()}, timestamps_ms=[seq], values=[1.0])]))
                .SerializeToString(), RecordKind.SAMPLES, 1)
            transport.notify()

    try:
        append(HELD)
        transport.start()
        wait_for(lambda: len(collector.received) >= HELD, 30, "the first batches to reach the collector")
        append(40)  # far past the bound: the batches on the wire are evicted from the spool
        assert spool.stats().dropped_batches >= HELD
        collector.release.set()
        wait_for(lambda: spool.stats().depth_batches == 0, 30, "the rest to be delivered and acked")
    finally:
        transport.stop(drain_timeout=1)
        server.stop(0)
    stats = spool.stats()
    spool.close()
    never_received = set(range(1, HELD + 41)) - set(collector.received)
    assert never_received, "the bound dropped nothing; the test needs a smaller spool"
    assert stats.dropped_batches == stats.dropped_samples == len(never_received)
