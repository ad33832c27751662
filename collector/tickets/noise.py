"""Noise control: maintenance windows, flapping detection and the clear-for hysteresis.

Pure decisions over plain values; the ticket service applies them and writes the timeline.

- **Maintenance windows** match a customer, a host and/or a check (ids or globs) and are either
  one-off (start/end) or recurring (weekdays and an hour range in a time zone, possibly past
  midnight). While one is active no ticket is opened for a match and no notification is sent.
- **Flapping**: a condition that changes between firing and clear ``threshold`` times within
  ``window`` is flapping; notifications stop until the changes in the window fall to half of that.
- **Hysteresis**: a ticket resolves itself only after its condition stayed clear for ``clear_for``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from collector.tickets.calendar import CalendarError, parse_days, zone

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_range(text: str) -> tuple[int, int]:
    """``02:00-04:00`` or ``23:00-01:00`` (past midnight) as minutes since midnight."""
    m = _RANGE.match(text)
    if not m:
        raise CalendarError(f"hours {text!r} must look like 02:00-04:00")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise CalendarError(f"hours {text!r}: times run from 00:00 to 24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise CalendarError(f"hours {text!r}: start and end are equal")
    return start, end


def _match(pattern: str | None, value: str | None) -> bool:
    if pattern is None:
        return True
    return value is not None and fnmatch.fnmatchcase(value, pattern)


@dataclass(frozen=True)
class MaintenanceWindow:
    customer: str | None = None
    host: str | None = None
    check: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    weekdays: frozenset[int] | None = None
    hours: tuple[int, int] | None = None
    timezone: str | None = None
    reason: str = ""
    id: int | None = None
    created_by: str = "config"

    @classmethod
    def recurring(cls, hours: str, days: str | list[str] | None = None, **kw: Any) -> MaintenanceWindow:
        return cls(hours=parse_range(hours), weekdays=parse_days(days) if days is not None else None, **kw)

    def matches(self, customer_id: str | None, host_id: str | None, check_id: str | None) -> bool:
        return _match(self.customer, customer_id) and _match(self.host, host_id) and _match(self.check, check_id)

    def active(self, t: datetime, default_tz: str = "UTC") -> bool:
        if self.start is not None and self.end is not None:
            return self.start <= t < self.end
        if self.hours is None:
            return False
        local = t.astimezone(zone(self.timezone or default_tz))
        minute = local.hour * 60 + local.minute
        days = self.weekdays if self.weekdays is not None else frozenset(range(7))
        start, end = self.hours
        if start < end:
            return local.weekday() in days and start <= minute < end
        # Past midnight: the part after midnight belongs to the previous day's window.
        if minute >= start:
            return local.weekday() in days
        return minute < end and (local - timedelta(days=1)).weekday() in days

    def expired(self, t: datetime) -> bool:
        return self.end is not None and t >= self.end

    def describe(self) -> str:
        scope = ", ".join(f"{k}={v}" for k, v in (("customer", self.customer), ("host", self.host),
                                                   ("check", self.check)) if v)
        if self.start is not None and self.end is not None:
            when = f"{self.start.isoformat()} – {self.end.isoformat()}"
        else:
            assert self.hours is not None
            a, b = self.hours
            when = f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
            if self.weekdays is not None and len(self.weekdays) < 7:
                when += " on " + ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d]
                                          for d in sorted(self.weekdays))
            when += f" ({self.timezone or 'customer time'})"
        return f"{scope} {when}" + (f": {self.reason}" if self.reason else "")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "customer": self.customer, "host": self.host, "check": self.check,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "weekdays": sorted(self.weekdays) if self.weekdays is not None else None,
                "hours": list(self.hours) if self.hours else None, "timezone": self.timezone,
                "reason": self.reason, "created_by": self.created_by, "description": self.describe()}


def active_window(windows: list[MaintenanceWindow], t: datetime, customer_id: str | None, host_id: str | None,
                  check_id: str | None, default_tz: str = "UTC") -> MaintenanceWindow | None:
    """The first window silencing this customer/host/check at ``t``, if any."""
    for w in windows:
        if w.matches(customer_id, host_id, check_id) and w.active(t, default_tz):
            return w
    return None


@dataclass(frozen=True)
class FlapState:
    changes_ms: tuple[int, ...]
    flapping: bool
    started: bool = False  # flapping began with this update
    stopped: bool = False  # flapping ended with this update


def track_flapping(changes_ms: list[int] | tuple[int, ...], now_ms: int, window_s: float, threshold: int,
                   flapping: bool, changed: bool) -> FlapState:
    """Record a firing/clear change (when ``changed``) and decide flapping with hysteresis.

    Flapping starts at ``threshold`` changes within the window and ends when they fall to half of it,
    so a condition hovering around the threshold does not toggle the flag itself.
    """
    horizon = now_ms - int(window_s * 1000)
    kept = [c for c in changes_ms if c > horizon]
    if changed:
        kept.append(now_ms)
    n = len(kept)
    if not flapping and n >= threshold:
        return FlapState(tuple(kept), True, started=True)
    if flapping and n <= threshold // 2:
        return FlapState(tuple(kept), False, stopped=True)
    return FlapState(tuple(kept), flapping)


def clear_long_enough(clear_since: datetime | None, now: datetime, clear_for_s: float) -> bool:
    return clear_since is not None and (now - clear_since).total_seconds() >= clear_for_s
