"""What a ticket event says in a notification: title, Markdown text and key facts."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from collector.notify.model import Notification
from collector.tickets.model import Ticket

CLOCK_NAMES = {"respond": "response", "on_site": "on-site arrival", "restore": "restore", "resolve": "resolution",
               "plan": "written plan"}


def local_time(t: datetime | float | None, tz: str) -> str:
    if t is None:
        return "—"
    if not isinstance(t, datetime):
        t = datetime.fromtimestamp(t, tz=UTC)
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def _split(seconds: float) -> tuple[str, int, int, int]:
    """Sign, whole days, hours and minutes of a duration."""
    s = int(abs(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    return ("-" if seconds < 0 else ""), d, h, rem // 60


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    sign, d, h, m = _split(seconds)
    return sign + ((f"{d}d {h}h" if h else f"{d}d") if d else (f"{h}h {m:02d}m" if h else f"{m}m"))


def duration_zh(seconds: float | None) -> str:
    """A duration in Chinese as a customer reads it: 7天, 3天4小时, 5小时3分钟, 12分钟."""
    if seconds is None:
        return "—"
    sign, d, h, m = _split(seconds)
    if d:
        return sign + (f"{d}天{h}小时" if h else f"{d}天")
    return sign + ((f"{h}小时{m}分钟" if m else f"{h}小时") if h else f"{m}分钟")


def facts(ticket: Ticket, customer_name: str, tz: str) -> dict[str, str]:
    out = {"customer": customer_name, "severity": f"{ticket.severity.value} {ticket.severity.zh}",
           "state": f"{ticket.state.value} ({ticket.state.zh})", "source": ticket.source.value}
    if ticket.host_id:
        out["host"] = ticket.host_id
    if ticket.assignee:
        out["assignee"] = ticket.assignee
    f = ticket.forecast or {}
    if f.get("eta") is not None:
        band = ""
        if f.get("eta_low") is not None and f.get("eta_high") is not None:
            band = f" (band {local_time(f['eta_low'], tz)} … {local_time(f['eta_high'], tz)})"
        out["expected at"] = local_time(f["eta"], tz) + band
    return out


def build(ticket: Ticket, event: str, headline: str, text: str, *, now: datetime, customer_name: str, tz: str,
          link: str | None, emails: tuple[str, ...] = (), channels: tuple[str, ...] = ()) -> Notification:
    body = text or ticket.registration.description or ticket.title
    return Notification(
        event=event, title=f"#{ticket.id} {headline}", text=body, created_at=now, customer_id=ticket.customer_id,
        severity=ticket.severity.value, ticket_id=ticket.id, link=link.format(id=ticket.id) if link else None,
        fields=facts(ticket, customer_name, tz), emails=emails, channels=channels)
