"""Real things on loopback for the probe tests: certificates, HTTP(S) and SNTP servers, listening sockets."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.probes.ntp import to_ntp

UTC = dt.UTC


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path
    not_after: dt.datetime

    @property
    def not_after_unix(self) -> float:
        return self.not_after.timestamp()


def make_cert(directory: Path, name: str, *, not_after: dt.datetime, host: str = "localhost") -> CertFiles:
    """A self-signed certificate for ``host`` and 127.0.0.1 (EC keys: generated in a millisecond)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    not_after = not_after.replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(not_after, dt.datetime.now(UTC)) - dt.timedelta(days=400))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return CertFiles(cert_path, key_path, not_after)


def der_of(cert: Path) -> bytes:
    return x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/ok`` 200, ``/fail`` 503, ``/moved`` 301, ``/hang`` answers only when the test releases it."""

    release: threading.Event

    def do_GET(self) -> None:
        if self.path.startswith("/hang"):
            self.release.wait(30)
        status = {"/ok": 200, "/ok?x=1": 200, "/fail": 503, "/moved": 301}.get(self.path, 404)
        body = f"status {status} for {self.path}\n".encode()
        self.send_response(status)
        if status == 301:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@contextmanager
def http_server(tls: CertFiles | None = None) -> Iterator[tuple[str, threading.Event]]:
    """A threaded HTTP(S) server on 127.0.0.1; yields its base URL and the event that releases ``/hang``."""
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"release": release})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@contextmanager
def listening(host: str = "127.0.0.1") -> Iterator[int]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """Completes TLS handshakes on 127.0.0.1 with ``context`` (its SNI callback included), then hangs up."""
    stop = threading.Event()
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.05)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except OSError:
                pass  # the client gave up; the next one may not

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def closed_port() -> int:
    """A port nothing listens on: bound, never listened, released (another process taking it is unlikely)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# Answer builder for the SNTP server: request bytes -> reply datagram(s), or None to stay silent.
Responder = Callable[[bytes], bytes | list[bytes] | None]


def sntp_reply(
    request: bytes, *, receive: float, transmit: float, stratum: int = 2, leap: int = 0, kiss: bytes = b""
) -> bytes:
    """An RFC 4330 server reply to ``request`` with the given receive (t2) and transmit (t3) times."""
    reply = bytearray(48)
    reply[0] = (leap << 6) | (4 << 3) | 4
    reply[1] = stratum
    reply[12:16] = kiss.ljust(4, b"\0") if kiss else b"GPS\0"
    reply[24:32] = request[40:48]  # originate = the client's transmit time
    reply[32:40] = to_ntp(receive)
    reply[40:48] = to_ntp(transmit)
    return bytes(reply)


@contextmanager
def sntp_server(respond: Responder) -> Iterator[tuple[int, list[bytes]]]:
    """A UDP server on 127.0.0.1; yields its port and the requests it received."""
    requests: list[bytes] = []
    stop = threading.Event()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            requests.append(data)
            reply = respond(data)
            for datagram in [reply] if isinstance(reply, bytes) else reply or []:
                sock.sendto(datagram, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], requests
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until ``predicate`` holds; fail the test (not hang) when it never does."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
