"""Garbage on the wire: each bad stream gets a clear gRPC status, and the collector keeps serving."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from protos.patrol.v1 import agent_pb2 as pb
from tests.integration.harness import CollectorProcess

pytestmark = pytest.mark.integration
METHOD = "/patrol.v1.AgentService/Connect"


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("wire"), limits={"hello_timeout": "1s",
                                                                   "max_message_bytes": 65536}).start()
    yield c
    c.kill(signal.SIGTERM)


def call(collector: CollectorProcess, messages: list[bytes], timeout: float = 15) -> list[pb.CollectorMessage]:
    with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}",
                               options=[("grpc.max_send_message_length", 8 * 2**20)]) as ch:
        stub = ch.stream_stream(METHOD, request_serializer=None,
                                response_deserializer=pb.CollectorMessage.FromString)
        return list(stub(iter(messages), timeout=timeout))


def hello(agent_id: str = "wire-agent", customer: str = "acme") -> bytes:
    return pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, hostname=agent_id, customer=customer,
                                          spool_epoch=uuid.uuid4().hex)).SerializeToString()


def samples(seq: int) -> bytes:
    return pb.AgentMessage(samples=pb.Samples(seq=seq, series=[
        pb.Series(name="cpu.busy_percent", timestamps_ms=[1_700_000_000_000 + seq], values=[float(seq)])
    ])).SerializeToString()


def assert_still_serving(collector: CollectorProcess) -> None:
    acks = call(collector, [hello("good-agent"), samples(1), samples(2)])
    assert [m.ack.seq for m in acks if m.WhichOneof("payload") == "ack"][-1] == 2
    assert collector.proc is not None and collector.proc.poll() is None


def status_of(collector: CollectorProcess, messages: list[bytes]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call(collector, messages)
    return exc.value


def test_random_bytes_as_a_message(collector: CollectorProcess) -> None:
    err = status_of(collector, [os.urandom(512)])
    assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
    assert_still_serving(collector)


def test_random_bytes_after_hello(collector: CollectorProcess) -> None:
    err = status_of(collector, [hello(), b"\xff\xff\xff\xff\x0f" + os.urandom(64)])
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed" in err.details()
    assert_still_serving(collector)


def test_wrong_message_type(collector: CollectorProcess) -> None:
    # A downstream message sent upstream decodes into an AgentMessage with a different payload or none.
    wrong = pb.CollectorMessage(ack=pb.Ack(seq=5)).SerializeToString()
    err = status_of(collector, [wrong])
    assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
    err = status_of(collector, [samples(1)])
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "first message must be Hello" in err.details()
    err = status_of(collector, [hello(), hello()])
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert_still_serving(collector)


def test_oversized_message(collector: CollectorProcess) -> None:
    big = pb.AgentMessage(samples=pb.Samples(seq=1, series=[
        pb.Series(name="x.y", timestamps_ms=list(range(20000)), values=[1.0] * 20000)])).SerializeToString()
    assert len(big) > 65536
    err = status_of(collector, [hello(), big])
    assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert_still_serving(collector)


def test_stream_that_never_sends_hello(collector: CollectorProcess) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}") as ch:
        stub = ch.stream_stream(METHOD, request_serializer=None, response_deserializer=pb.CollectorMessage.FromString)

        def silent() -> Iterator[bytes]:
            import time

            time.sleep(5)
            yield from ()

        with pytest.raises(grpc.RpcError) as exc:
            list(stub(silent(), timeout=15))
    assert exc.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert "no Hello" in exc.value.details()
    assert_still_serving(collector)


def test_inconsistent_batch_and_unknown_customer(collector: CollectorProcess) -> None:
    bad = pb.AgentMessage(samples=pb.Samples(seq=1, series=[
        pb.Series(name="cpu.busy_percent", timestamps_ms=[1, 2], values=[1.0])])).SerializeToString()
    err = status_of(collector, [hello(), bad])
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "2 timestamps but 1 values" in err.details()
    err = status_of(collector, [hello(customer="nobody")])
    assert err.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "unknown customer 'nobody'" in err.details()
    assert_still_serving(collector)


def test_raw_tcp_garbage(collector: CollectorProcess) -> None:
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", collector.grpc_port), timeout=5) as s:
            s.sendall(os.urandom(4096))
            with contextlib.suppress(OSError):
                s.recv(1024)
    assert_still_serving(collector)


def test_duplicate_batches_are_acked_but_stored_once(collector: CollectorProcess, tmp_path: Path) -> None:
    epoch = uuid.uuid4().hex
    h = pb.AgentMessage(hello=pb.Hello(agent_id="dup-agent", customer="acme", spool_epoch=epoch)).SerializeToString()
    call(collector, [h, samples(1), samples(2)])
    acks = call(collector, [h, samples(1), samples(2), samples(3)])
    assert [m.ack.seq for m in acks if m.WhichOneof("payload") == "ack"][-1] == 3
    collector.flush()
    with collector.db() as db:
        n = db.execute("SELECT COUNT(*) FROM ingest_log WHERE host_id='dup-agent'").fetchone()[0]
    assert n == 3
