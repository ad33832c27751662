"""A gRPC man-in-the-middle between a real agent and a real collector, for the hostile-path tests.

It forwards ``AgentService.Connect`` both ways and can alter, delay or re-inject the collector's
downstream messages — what an attacker on the network path could do, and what signatures,
expiry and the replay cache must defeat.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from protos.patrol.v1 import agent_pb2 as pb

METHOD = "/patrol.v1.AgentService/Connect"
_OPTIONS = [("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.min_recv_ping_interval_without_data_ms", 500),
            ("grpc.http2.max_ping_strikes", 0)]


class DiagProxy:
    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()
        self.requests: list[pb.DiagnosticRequest] = []
        self._rewrite: Callable[[pb.DiagnosticRequest], None] | None = None
        self._delay = 0.0
        self._streams: list[queue.Queue[Any]] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=_OPTIONS)
        handler = grpc.method_handlers_generic_handler(
            "patrol.v1.AgentService", {"Connect": grpc.stream_stream_rpc_method_handler(self._connect)})
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def rewrite_next(self, change: Callable[[pb.DiagnosticRequest], None]) -> None:
        """Alter the next diagnostic request on its way to the agent."""
        with self._lock:
            self._rewrite = change

    def delay_next(self, seconds: float) -> None:
        """Hold the next diagnostic request this long before passing it on."""
        with self._lock:
            self._delay = seconds

    def inject(self, message: pb.CollectorMessage) -> int:
        """Send ``message`` to every connected agent as if the collector had; the number of streams."""
        with self._lock:
            streams = list(self._streams)
        for out in streams:
            out.put(message.SerializeToString())
        return len(streams)

    def last_request(self) -> pb.DiagnosticRequest:
        with self._lock:
            return self.requests[-1]

    def close(self) -> None:
        self.server.stop(grace=0)

    def _connect(self, request_iterator: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        channel = grpc.insecure_channel(self.target)
        responses = channel.stream_stream(METHOD)(request_iterator)
        out: queue.Queue[Any] = queue.Queue()
        with self._lock:
            self._streams.append(out)

        def pump() -> None:
            try:
                for raw in responses:
                    msg = pb.CollectorMessage.FromString(raw)
                    if msg.WhichOneof("payload") == "diagnostic_request":
                        with self._lock:
                            seen = pb.DiagnosticRequest()
                            seen.CopyFrom(msg.diagnostic_request)
                            self.requests.append(seen)
                            rewrite, self._rewrite = self._rewrite, None
                            delay, self._delay = self._delay, 0.0
                        if rewrite is not None:
                            rewrite(msg.diagnostic_request)
                            raw = msg.SerializeToString()
                        if delay:
                            time.sleep(delay)
                    out.put(raw)
            except grpc.RpcError as e:
                out.put(e)
            finally:
                out.put(None)

        threading.Thread(target=pump, daemon=True, name="diag-proxy-pump").start()

        def closed() -> None:
            responses.cancel()
            channel.close()

        context.add_callback(closed)
        try:
            while True:
                item = out.get()
                if item is None:
                    return
                if isinstance(item, grpc.RpcError):
                    context.abort(item.code(), item.details() or "upstream failed")
                yield item
        finally:
            with self._lock:
                self._streams.remove(out)
