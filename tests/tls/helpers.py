"""Helpers of the TLS tests: a settable clock, a fake gRPC context, a raw agent stream with its own credentials."""

from __future__ import annotations

import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc

from collector.pki.ca import CertificateAuthority, cert_pem, key_pem, new_key
from protos.patrol.v1 import agent_pb2 as pb

METHOD = "/patrol.v1.AgentService/Connect"
T0 = 1_790_000_000.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now

    def dt(self) -> datetime:
        return datetime.fromtimestamp(self.now, tz=UTC)


@dataclass
class FakeContext:
    """What the identify hook reads from a gRPC call: the verified peer certificate, if any."""

    pem: bytes | None
    peer_address: str = "ipv4:127.0.0.1:50000"

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [self.pem]} if self.pem else {"transport_security_type": [b"ssl"]}

    def peer(self) -> str:
        return self.peer_address


@dataclass
class Credentials:
    cert: bytes
    key: bytes


def agent_credentials(ca: CertificateAuthority, agent_id: str, customer: str, now: datetime,
                      days: int = 30) -> Credentials:
    from datetime import timedelta

    key = new_key()
    cert = ca.issue_agent(key.public_key(), agent_id, customer, now, timedelta(days=days))
    return Credentials(cert=cert_pem(cert), key=key_pem(key))


def hello(agent_id: str, customer: str) -> pb.AgentMessage:
    return pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, hostname=agent_id, customer=customer,
                                          spool_epoch=uuid.uuid4().hex, version="test"))


def samples(seq: int, ts_ms: int) -> pb.AgentMessage:
    return pb.AgentMessage(samples=pb.Samples(seq=seq, series=[
        pb.Series(name="cpu.busy_percent", timestamps_ms=[ts_ms], values=[float(seq)])]))


@dataclass
class Stream:
    """One agent stream over real TLS, driven message by message from the test."""

    port: int
    ca: bytes | None
    creds: Credentials | None = None
    _out: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    _in: queue.Queue[Any] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        if self.ca is None:
            self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        else:
            creds = grpc.ssl_channel_credentials(self.ca, self.creds.key if self.creds else None,
                                                 self.creds.cert if self.creds else None)
            self.channel = grpc.secure_channel(f"127.0.0.1:{self.port}", creds)
        call = self.channel.stream_stream(METHOD, request_serializer=None,
                                          response_deserializer=pb.CollectorMessage.FromString)
        self.call = call(self._requests(), timeout=30)
        threading.Thread(target=self._read, daemon=True).start()

    def _requests(self) -> Any:
        while True:
            item = self._out.get()
            if item is None:
                return
            yield item

    def _read(self) -> None:
        try:
            for msg in self.call:
                self._in.put(msg)
            self._in.put("end")
        except grpc.RpcError as e:
            self._in.put(e)

    def send(self, msg: pb.AgentMessage) -> Stream:
        self._out.put(msg.SerializeToString())
        return self

    def receive(self, timeout: float = 20) -> pb.CollectorMessage | grpc.RpcError | str:
        """The next message, the error that ended the stream, or "end" when it ended cleanly."""
        return self._in.get(timeout=timeout)

    def close(self) -> None:
        self._out.put(None)
        self.call.cancel()
        self.channel.close()


def refusal(stream: Stream) -> grpc.RpcError:
    got = stream.receive()
    assert isinstance(got, grpc.RpcError), f"expected the stream to be refused, got {got!r}"
    return got
