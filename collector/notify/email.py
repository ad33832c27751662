"""E-mail over SMTP: STARTTLS (587), implicit TLS (465) or plain for a trusted relay, with login.

Errors become :class:`DeliveryError` values whose message names the server and what went wrong but
never the password; ``permanent`` tells the outbox not to retry (a refused login will not heal by
itself).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from collector.notify.config import SmtpConfig
from collector.notify.model import Rendered


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def tls_context(cfg: SmtpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if not cfg.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def build_message(sender: str, to: list[str], subject: str, body: str, delivery_id: str | None = None
                  ) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if delivery_id:
        msg["X-Patrol-Delivery"] = delivery_id
    msg.set_content(body)
    return msg


class EmailSender:
    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg

    @property
    def where(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    def send(self, to: list[str], message: Rendered, subject_prefix: str = "[Patrol]",
             delivery_id: str | None = None) -> list[str]:
        """Send; returns the recipients the server refused while accepting others (not retried)."""
        if not to:
            raise DeliveryError("no e-mail recipients", permanent=True)
        subject = f"{subject_prefix} {message.title}".strip()
        msg = build_message(self.cfg.sender, to, subject, message.text, delivery_id)
        try:
            return self._send(msg, to)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(f"SMTP server {self.where} refused the login of {self.cfg.username!r} "
                                f"({e.smtp_code}); check smtp.username and the password", permanent=True) from None
        except smtplib.SMTPRecipientsRefused as e:
            raise DeliveryError(f"SMTP server {self.where} refused every recipient: "
                                f"{', '.join(sorted(e.recipients))}", permanent=True) from None
        except smtplib.SMTPResponseException as e:
            permanent = 500 <= e.smtp_code < 600
            raise DeliveryError(f"SMTP server {self.where} answered {e.smtp_code} "
                                f"{_text(e.smtp_error)}", permanent=permanent) from None
        except ssl.SSLError as e:
            raise DeliveryError(f"TLS with SMTP server {self.where} failed: {e.reason or e}; check smtp.ca_file "
                                "or the server certificate") from None
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(f"cannot deliver through SMTP server {self.where}: {e}") from None

    def _send(self, msg: EmailMessage, to: list[str]) -> list[str]:
        cfg = self.cfg
        client: smtplib.SMTP
        if cfg.security == "ssl":
            client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=tls_context(cfg))
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        with client:
            client.ehlo()
            if cfg.security == "starttls":
                if not client.has_extn("starttls"):
                    raise DeliveryError(f"SMTP server {self.where} does not offer STARTTLS; fix the server or set "
                                        "smtp.security (ssl for port 465, none only for a trusted relay)",
                                        permanent=True)
                client.starttls(context=tls_context(cfg))
                client.ehlo()
            if cfg.username:
                client.login(cfg.username, cfg.secret() or "")
            # Some recipients took it: retrying would duplicate it for them, so the caller only reports.
            return sorted(client.send_message(msg, to_addrs=to))


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
