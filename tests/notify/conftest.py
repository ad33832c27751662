"""Real servers on loopback: an SMTP server (aiosmtpd, plain and STARTTLS+AUTH) and an HTTP receiver."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from collector.localrun import free_port
from tests.notify.receiver import Receiver, running_receiver

USER, PASSWORD = "patrol", "s3cret-Pa55"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class Sink:
    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                                      session.ssl is not None, bool(session.authenticated)))
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    sink: Sink
    cert: Path | None = None


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def smtp_plain() -> Iterator[SmtpServer]:
    sink = Sink()
    port = free_port()
    c = Controller(sink, hostname="127.0.0.1", port=port)
    c.start()
    try:
        yield SmtpServer(port, sink)
    finally:
        c.stop()


@pytest.fixture
def smtp_tls(tls_files: tuple[Path, Path]) -> Iterator[SmtpServer]:
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    sink = Sink()
    port = free_port()
    c = Controller(sink, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                   authenticator=_authenticator, auth_required=True, auth_require_tls=True)
    c.start()
    try:
        yield SmtpServer(port, sink, cert)
    finally:
        c.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r
