"""The influxdb-client write path against a real HTTP server on loopback: what each answer means."""

from __future__ import annotations

import gzip
import logging
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from collector.export.config import InfluxExport
from collector.export.outcome import Verdict
from collector.export.writer import InfluxWriter
from collector.localrun import free_port

SECRET = "s3cr3t-token-value"


class Target(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers: deque[tuple[int, dict[str, str], bytes]] = deque()
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Target

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        parts = urlsplit(self.path)
        self.server.requests.append({"path": parts.path, "query": parse_qs(parts.query), "body": body.decode(),
                                     "headers": dict(self.headers.items())})
        status, headers, payload = self.server.answers.popleft() if self.server.answers else (204, {}, b"")
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def writer_for(url: str, **kw: Any) -> InfluxWriter:
    return InfluxWriter(InfluxExport.model_validate({"url": url, "org": "provider", "bucket": "patrol",
                                                     "token": SECRET, "timeout": 2} | kw))


def test_writes_gzip_line_protocol_with_token_org_bucket_and_precision(target: Target) -> None:
    w = writer_for(target.url)
    result = w.write("cpu,host=a busy_percent=1.5 1700000000000\nmem,host=a used_percent=2.0 1700000000000", "ms")
    w.close()
    assert result.verdict is Verdict.OK
    (req,) = target.requests
    assert req["path"] == "/api/v2/write"
    assert req["query"] == {"org": ["provider"], "bucket": ["patrol"], "precision": ["ms"]}
    assert req["headers"]["Content-Encoding"] == "gzip"
    assert req["headers"]["Authorization"] == f"Token {SECRET}"
    assert req["body"] == "cpu,host=a busy_percent=1.5 1700000000000\nmem,host=a used_percent=2.0 1700000000000"


@pytest.mark.parametrize(("status", "verdict"), [
    (400, Verdict.SPLIT), (413, Verdict.SPLIT), (422, Verdict.DROP), (401, Verdict.RETRY), (403, Verdict.RETRY),
    (404, Verdict.RETRY), (429, Verdict.RETRY), (500, Verdict.RETRY), (503, Verdict.RETRY),
])
def test_status_codes_map_to_what_the_exporter_does(target: Target, status: int, verdict: Verdict,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    target.answers.append((status, {"Content-Type": "application/json", "Retry-After": "7"},
                           b'{"code":"x","message":"what the server says"}'))
    w = writer_for(target.url)
    result = w.write("m f=1 1", "ns")
    w.close()
    assert result.verdict is verdict
    assert result.status == str(status)
    assert "what the server says" in result.message
    assert result.retry_after == 7.0
    if status == 401:
        assert "token" in result.message  # says what to fix
    assert SECRET not in result.message and SECRET not in caplog.text


def test_unreachable_target_is_a_network_error_to_retry() -> None:
    w = writer_for(f"http://127.0.0.1:{free_port()}")
    result = w.write("m f=1 1", "ms")
    w.close()
    assert result.verdict is Verdict.RETRY
    assert result.status == "network"
    assert SECRET not in result.message


def test_gzip_level_zero_sends_plain_text(target: Target) -> None:
    w = writer_for(target.url, gzip_level=0, token=None)
    assert w.write("m f=1 1", "ms").verdict is Verdict.OK
    w.close()
    (req,) = target.requests
    assert "Content-Encoding" not in req["headers"]
    assert "Authorization" not in req["headers"]  # no token configured: no header
    assert req["body"] == "m f=1 1"
