"""E-mail delivered to a real SMTP server on loopback (aiosmtpd), with STARTTLS and login."""

from __future__ import annotations

import email
import logging
from datetime import UTC, datetime
from email import policy

import pytest

from collector.notify.config import SmtpConfig
from collector.notify.email import DeliveryError, EmailSender
from collector.notify.model import Notification, Rendered, render
from tests.notify.conftest import PASSWORD, USER, SmtpServer

NOW = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


def message() -> Rendered:
    return render([Notification(event="opened", title="#7 磁盘 /data 将在 3 天内写满", text="disk **/data** fills up",
                                created_at=NOW, customer_id="acme", severity="L2", ticket_id=7,
                                fields={"host": "web-01"})])


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def test_plain_relay_delivers_utf8(smtp_plain: SmtpServer) -> None:
    sender = EmailSender(SmtpConfig(host="127.0.0.1", port=smtp_plain.port, security="none",
                                    sender="patrol@provider.example"))
    assert sender.send(["ops@provider.example", "duty@provider.example"], message(), "[Patrol]", "d-1") == []
    (got,) = smtp_plain.sink.messages
    assert got.rcpt_tos == ["ops@provider.example", "duty@provider.example"] and not got.tls
    msg = parse(got.content)
    assert msg["Subject"] == "[Patrol] [L2 二级] #7 磁盘 /data 将在 3 天内写满"
    assert msg["X-Patrol-Delivery"] == "d-1" and msg["From"] == "patrol@provider.example"
    body = msg.get_content()
    assert "disk /data fills up" in body and "host: web-01" in body


def test_starttls_and_login(smtp_tls: SmtpServer) -> None:
    cfg = SmtpConfig.model_validate({"host": "127.0.0.1", "port": smtp_tls.port, "username": USER,
                                     "password": PASSWORD, "from": "patrol@provider.example",
                                     "ca_file": str(smtp_tls.cert)})
    EmailSender(cfg).send(["ops@provider.example"], message())
    (got,) = smtp_tls.sink.messages
    assert got.tls and got.authenticated


def test_wrong_password_is_permanent_and_never_shown(smtp_tls: SmtpServer, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SMTP_PW", "wrong-" + PASSWORD)
    cfg = SmtpConfig.model_validate({"host": "127.0.0.1", "port": smtp_tls.port, "username": USER,
                                     "password_env": "SMTP_PW", "from": "patrol@provider.example",
                                     "ca_file": str(smtp_tls.cert)})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError) as exc:
        EmailSender(cfg).send(["ops@provider.example"], message())
    assert exc.value.permanent and "refused the login of 'patrol'" in str(exc.value)
    assert PASSWORD not in str(exc.value) and PASSWORD not in caplog.text and PASSWORD not in repr(cfg)
    assert smtp_tls.sink.messages == []


def test_untrusted_certificate_is_refused(smtp_tls: SmtpServer) -> None:
    cfg = SmtpConfig.model_validate({"host": "127.0.0.1", "port": smtp_tls.port, "username": USER,
                                     "password": PASSWORD, "from": "p@x.example"})
    with pytest.raises(DeliveryError, match=r"TLS with SMTP server .* failed"):
        EmailSender(cfg).send(["ops@provider.example"], message())


def test_starttls_missing_on_the_server_is_an_error_not_a_downgrade(smtp_plain: SmtpServer) -> None:
    cfg = SmtpConfig.model_validate({"host": "127.0.0.1", "port": smtp_plain.port, "username": USER,
                                     "password": PASSWORD, "from": "p@x.example"})
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as exc:
        EmailSender(cfg).send(["ops@provider.example"], message())
    assert exc.value.permanent and smtp_plain.sink.messages == []


def test_unreachable_server_is_transient() -> None:
    from collector.localrun import free_port

    cfg = SmtpConfig.model_validate({"host": "127.0.0.1", "port": free_port(), "security": "none",
                                     "from": "p@x.example", "timeout": "2s"})
    with pytest.raises(DeliveryError, match="cannot deliver") as exc:
        EmailSender(cfg).send(["ops@provider.example"], message())
    assert not exc.value.permanent
