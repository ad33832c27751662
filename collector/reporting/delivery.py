"""E-mailing reports to a customer's recipients, with the documents attached, over the collector's SMTP.

The connection, TLS, login and error handling are the notification sender's
(:class:`collector.notify.email.EmailSender`, configured by ``notifications.smtp``); this module adds
the attachments and the report's own subject and text. Errors come back as
:class:`collector.notify.email.DeliveryError` (``permanent`` when retrying cannot help).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from collector.notify.config import SmtpConfig
from collector.notify.email import DeliveryError, EmailSender
from collector.notify.model import Rendered
from reports.i18n import Locale
from reports.periods import Period

__all__ = ["Attachment", "DeliveryError", "ReportMailer", "mail_text"]


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str
    content: bytes
    sha256: str


class _AttachingSender(EmailSender):
    """The notification sender, adding attachments to the message it has built."""

    def __init__(self, cfg: SmtpConfig, attachments: Sequence[Attachment]) -> None:
        super().__init__(cfg)
        self.attachments = list(attachments)

    def _send(self, msg: EmailMessage, to: list[str]) -> list[str]:
        for a in self.attachments:
            maintype, _, subtype = a.media_type.partition(";")[0].strip().partition("/")
            msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
        return super()._send(msg, to)


class ReportMailer:
    def __init__(self, smtp: SmtpConfig | None, subject_prefix: str = "[Patrol]") -> None:
        self.smtp = smtp
        self.subject_prefix = subject_prefix

    @property
    def configured(self) -> bool:
        return self.smtp is not None

    def send(self, to: Sequence[str], subject: str, text: str, attachments: Sequence[Attachment],
             delivery_id: str | None = None) -> list[str]:
        """Send one message to every recipient; returns the recipients the server refused."""
        if self.smtp is None:
            raise DeliveryError("no SMTP server: configure notifications.smtp in collector.yaml", permanent=True)
        message = Rendered(title=subject, markdown=text, text=text, severity=None, notifications=[])
        sender = _AttachingSender(self.smtp, attachments)
        return sender.send(list(to), message, subject_prefix=self.subject_prefix, delivery_id=delivery_id)


def mail_text(loc: Locale, kind: str, customer_name: str, period: Period, provider: str,
              summary: dict[str, Any] | None, attachments: Sequence[Attachment]) -> tuple[str, str]:
    """The subject and plain-text body of a report e-mail in the report's language."""
    title = loc.t("monthly_title" if kind == "monthly" else "quarterly_title")
    subject = loc.t("mail_subject", customer=customer_name, period=loc.period(period), title=title)
    lines = [loc.t("mail_greeting", customer=customer_name), "",
             loc.t("mail_intro", period=loc.period(period), title=title if loc.lang == "zh" else title.lower()), ""]
    summary = summary or {}
    if kind == "monthly" and summary.get("score") is not None:
        lines.append(loc.t("mail_score", score=summary["score"]))
    if summary.get("counts"):
        c = summary["counts"]
        lines.append(loc.t("mail_counts", ok=c.get("ok", 0), warning=c.get("warning", 0),
                           critical=c.get("critical", 0)))
    if kind == "quarterly" and summary.get("availability_pct") is not None:
        lines.append(loc.t("mail_availability", pct=loc.percent(summary["availability_pct"], 2)))
    lines += ["", loc.t("mail_attachments")]
    lines += [f"  {a.filename}  SHA-256 {a.sha256}" for a in attachments]
    lines += ["", provider]
    return subject, "\n".join(lines)
