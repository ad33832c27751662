"""A notification as the rest of the collector hands it to the outbox, and its rendering for people.

Notify knows nothing about tickets: a caller describes the event (what happened, for which customer,
how severe) and the outbox routes, groups, formats and delivers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITIES = ("L1", "L2", "L3", "L4")
_SEVERITY_ZH = {"L1": "一级", "L2": "二级", "L3": "三级", "L4": "四级"}


@dataclass(frozen=True)
class Notification:
    event: str  # opened, reopened, severity_raised, sla_warning, sla_breach, escalated, plan_required, resolved, test
    title: str
    text: str  # Markdown: rendered as Markdown for DingTalk/WeCom/Feishu, as is in e-mail
    created_at: datetime
    customer_id: str | None = None
    severity: str | None = None  # L1…L4
    ticket_id: int | None = None
    link: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    # Addressed on top of the routes (an escalation step's people and channels).
    channels: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "title": self.title, "text": self.text,
                "created_at": self.created_at.isoformat(), "customer_id": self.customer_id,
                "severity": self.severity, "ticket_id": self.ticket_id, "link": self.link,
                "fields": dict(self.fields), "channels": list(self.channels), "emails": list(self.emails)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Notification:
        return cls(event=d["event"], title=d["title"], text=d["text"],
                   created_at=datetime.fromisoformat(d["created_at"]), customer_id=d.get("customer_id"),
                   severity=d.get("severity"), ticket_id=d.get("ticket_id"), link=d.get("link"),
                   fields=dict(d.get("fields") or {}), channels=tuple(d.get("channels") or ()),
                   emails=tuple(d.get("emails") or ()))


@dataclass(frozen=True)
class Rendered:
    """One message to deliver: a single notification or a burst grouped into one."""

    title: str
    markdown: str
    text: str
    severity: str | None
    notifications: list[Notification]

    @property
    def count(self) -> int:
        return len(self.notifications)


def severity_label(severity: str | None) -> str:
    if severity is None:
        return ""
    return f"{severity} {_SEVERITY_ZH.get(severity, '')}".strip()


def _worst(notifications: list[Notification]) -> str | None:
    ranked = [n.severity for n in notifications if n.severity in SEVERITIES]
    return min(ranked, key=SEVERITIES.index) if ranked else None


def _one_markdown(n: Notification, heading: str, prefix: str = "") -> str:
    lines = [f"{heading} {prefix}{n.title}", "", n.text.strip()]
    if n.fields:
        lines.append("")
        lines.extend(f"- **{k}**: {v}" for k, v in n.fields.items())
    if n.link:
        lines += ["", f"[{n.link}]({n.link})"]
    return "\n".join(lines).strip()


def render(notifications: list[Notification]) -> Rendered:
    if not notifications:
        raise ValueError("nothing to render")
    worst = _worst(notifications)
    if len(notifications) == 1:
        n = notifications[0]
        title = f"[{severity_label(n.severity)}] {n.title}" if n.severity else n.title
        md = _one_markdown(n, "###")
        return Rendered(title=title, markdown=md, text=_plain(md), severity=worst, notifications=notifications)
    first = notifications[0].title
    title = f"{len(notifications)} notifications" + (f" (worst {severity_label(worst)})" if worst else "") + \
        f": {first} …"
    parts = [f"### {len(notifications)} notifications"]
    for n in notifications:
        sev = f"[{severity_label(n.severity)}] " if n.severity else ""
        parts.append(_one_markdown(n, "####", sev))
    md = "\n\n---\n\n".join(parts)
    return Rendered(title=title, markdown=md, text=_plain(md), severity=worst, notifications=notifications)


def _plain(markdown: str) -> str:
    out = []
    for line in markdown.splitlines():
        stripped = line.lstrip("#").strip() if line.startswith("#") else line
        out.append(stripped.replace("**", ""))
    return "\n".join(out)


def truncate_utf8(text: str, max_bytes: int, marker: str = "\n…(truncated)") -> str:
    """Cut ``text`` to ``max_bytes`` of UTF-8 without splitting a character (chat APIs count bytes)."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    keep = max_bytes - len(marker.encode())
    return data[:max(0, keep)].decode(errors="ignore") + marker
