"""The window an inspection run covers: a rolling span, or a calendar month or quarter of the customer.

A calendar profile (``period: month``) inspects exactly what the month's report covers: the
calendar month in the customer's time zone. Without a named period, a scheduled run covers the
period that has just ended (the monthly job fires after the month closes) and a run started by
hand covers the running period up to now. A named period (``2026-11``, ``2026Q4``) covers that one,
up to now if it is still running.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from inspections import Profile
from reports.periods import Period, PeriodError, ReportKind

_KIND: dict[str, ReportKind] = {"month": "monthly", "quarter": "quarterly"}


class WindowError(ValueError):
    """A period that does not fit the profile or has not begun; the message says which."""


def inspection_window(profile: Profile, now: datetime, timezone: str, period: str | None = None,
                      scheduled: bool = False) -> tuple[datetime, datetime]:
    """``(since, until)`` in UTC for a run of ``profile`` at ``now``."""
    kind = _KIND.get(profile.period)
    if kind is None:
        if period:
            raise WindowError(f"profile {profile.id!r} inspects the last {profile.window.days} days before the run; "
                              f"a period such as {period!r} applies to calendar profiles (period: month or quarter)")
        return profile.window_ending(now)
    tz = ZoneInfo(timezone)
    if period:
        try:
            chosen = Period.parse(period, kind)
        except PeriodError as exc:
            raise WindowError(f"profile {profile.id!r} covers a calendar {profile.period}: {exc}") from None
    else:
        chosen = Period.containing(kind, now, tz)
        if scheduled:
            chosen = chosen.previous()
    start, end = chosen.bounds(tz)
    if start >= now:
        raise WindowError(f"{chosen} has not begun yet in the customer's time zone ({timezone})")
    return start.astimezone(UTC), min(end, now).astimezone(UTC)
