"""A real HTTP server on loopback that records webhook deliveries and can be told to fail."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Delivery:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        # path -> list of (status, JSON answer) to return, in order; the last one repeats.
        self.script: dict[str, list[tuple[int, Any]]] = {}
        self.lock = threading.Lock()
        # While cleared, requests wait before answering: a slow or hanging endpoint.
        self.gate = threading.Event()
        self.gate.set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, *replies: tuple[int, Any]) -> None:
        self.script[path] = list(replies)

    def ok(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.status == 200 and (path is None or d.path == path)]

    def all(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if path is None or d.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.gate.wait(30)
                with receiver.lock:
                    replies = receiver.script.get(parts.path) or [(200, {"errcode": 0, "errmsg": "ok"})]
                    status, answer = replies.pop(0) if len(replies) > 1 else replies[0]
                    receiver.deliveries.append(Delivery(
                        path=parts.path, query={k: v[0] for k, v in parse_qs(parts.query).items()},
                        headers={k.lower(): v for k, v in self.headers.items()}, body=json.loads(raw or b"null"),
                        status=status))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
