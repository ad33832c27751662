"""Service windows and business calendars: which seconds an SLA clock counts.

A :class:`ServiceCalendar` is a set of weekdays, one or more daily hour ranges (``09:30-19:30``; a
lunch break is two ranges), public holidays, make-up working days (调休: a Saturday that is worked
because a holiday bridge moved it) and a time zone. Hours are wall-clock times in that zone, so a
window stays 09:30–19:30 across a daylight-saving change.

All arithmetic is pure and works on tz-aware datetimes; ``business_seconds_between`` and
``deadline_after`` are the two questions an SLA clock asks.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# How far deadline_after looks for working time before it gives up (a calendar of only holidays).
_MAX_SEARCH_DAYS = 3 * 366


class CalendarError(ValueError):
    """A service window definition that cannot work; the message names the field and the fix."""


def parse_days(value: str | Iterable[str]) -> frozenset[int]:
    """Weekday numbers (Monday = 0) from ``"mon-fri"``, ``"mon,wed,fri"``, ``"all"`` or a list of names."""
    items = [value] if isinstance(value, str) else list(value)
    out: set[int] = set()
    for item in items:
        for part in str(item).lower().replace(" ", "").split(","):
            if not part:
                continue
            if part in ("all", "daily", "everyday"):
                out.update(range(7))
                continue
            lo, sep, hi = part.partition("-")
            try:
                a = DAY_NAMES.index(lo[:3])
                b = DAY_NAMES.index(hi[:3]) if sep else a
            except ValueError:
                raise CalendarError(f"unknown weekday in {part!r}: use mon, tue, wed, thu, fri, sat, sun "
                                    "or a range such as mon-fri") from None
            out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    if not out:
        raise CalendarError("no weekdays given: use for example mon-fri or all")
    return frozenset(out)


def parse_hours(value: str) -> tuple[int, int]:
    """``"09:30-19:30"`` as minutes since midnight; the end may be ``24:00``."""
    m = _HOURS.match(value)
    if not m:
        raise CalendarError(f"hours {value!r} must look like 09:30-19:30")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 1440:
        raise CalendarError(f"hours {value!r}: times run from 00:00 to 24:00")
    if start >= end:
        raise CalendarError(f"hours {value!r}: the start must be before the end (a window ends by 24:00; "
                            "split an overnight window into two ranges)")
    return start, end


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from None


def aware(t: datetime) -> datetime:
    """Reject naive datetimes: an SLA computed in an unknown zone is silently wrong."""
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()}: pass a tz-aware time (UTC inside Patrol)")
    return t


@dataclass(frozen=True)
class ServiceCalendar:
    """When the service clock runs. The default is 7×24 in UTC."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    weekdays: frozenset[int] = frozenset(range(7))
    hours: tuple[tuple[int, int], ...] = ((0, 1440),)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    name: str = "7x24"
    _cache: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise CalendarError(f"calendar {self.name!r}: {min(both)} is listed both as a holiday and as a "
                                "working day; keep it in one list")
        ordered = sorted(self.hours)
        for (_, end), (start, _) in itertools.pairwise(ordered):
            if start < end:
                raise CalendarError(f"calendar {self.name!r}: hour ranges overlap; merge them")
        object.__setattr__(self, "hours", tuple(ordered))

    @classmethod
    def build(cls, *, timezone: str = "UTC", days: str | Iterable[str] = "all",
              hours: Iterable[str] = ("00:00-24:00",), holidays: Iterable[date] = (),
              workdays: Iterable[date] = (), name: str = "") -> ServiceCalendar:
        return cls(tz=zone(timezone), weekdays=parse_days(days), hours=tuple(parse_hours(h) for h in hours),
                   holidays=frozenset(holidays), workdays=frozenset(workdays), name=name or "custom")

    @property
    def always(self) -> bool:
        """Every second counts (7×24 without holidays): the arithmetic needs no calendar walk."""
        return len(self.weekdays) == 7 and self.hours == ((0, 1440),) and not self.holidays

    def is_working_day(self, d: date) -> bool:
        if d in self.workdays:
            return True
        return d.weekday() in self.weekdays and d not in self.holidays

    def day_intervals(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of local date ``d`` as UTC datetimes (empty on days off)."""
        cached = self._cache.get(d)
        if cached is not None:
            return cached
        out: list[tuple[datetime, datetime]] = []
        if self.is_working_day(d):
            for start, end in self.hours:
                a = self._local(d, start)
                b = self._local(d, end)
                if b > a:
                    out.append((a, b))
        result = tuple(out)
        if len(self._cache) > 20000:
            self._cache.clear()
        self._cache[d] = result
        return result

    def _local(self, d: date, minutes: int) -> datetime:
        if minutes >= 1440:
            d, minutes = d + timedelta(days=1), 0
        local = datetime.combine(d, time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return local.astimezone(UTC)

    def intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals clipped to [start, end), in order."""
        start, end = aware(start), aware(end)
        if end <= start:
            return
        d = start.astimezone(self.tz).date() - timedelta(days=1)
        last = end.astimezone(self.tz).date()
        while d <= last:
            for a, b in self.day_intervals(d):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    yield lo, hi
            d += timedelta(days=1)

    def contains(self, t: datetime) -> bool:
        """True when ``t`` is inside the service window (the clock runs)."""
        t = aware(t)
        if self.always:
            return True
        d = t.astimezone(self.tz).date()
        return any(a <= t < b for day in (d - timedelta(days=1), d) for a, b in self.day_intervals(day))

    def next_opening(self, t: datetime) -> datetime:
        """``t`` itself inside the window, else the next moment the window opens."""
        t = aware(t)
        if self.contains(t):
            return t
        d = t.astimezone(self.tz).date()
        for _ in range(_MAX_SEARCH_DAYS):
            for a, _b in self.day_intervals(d):
                if a >= t:
                    return a
            d += timedelta(days=1)
        raise CalendarError(f"calendar {self.name!r} has no working time in the next {_MAX_SEARCH_DAYS} days")


def business_seconds_between(start: datetime, end: datetime, calendar: ServiceCalendar) -> float:
    """Seconds of service-window time in [start, end); 0 when end <= start."""
    start, end = aware(start), aware(end)
    if end <= start:
        return 0.0
    if calendar.always:
        return (end - start).total_seconds()
    return sum((b - a).total_seconds() for a, b in calendar.intervals(start, end))


def deadline_after(start: datetime, seconds: float, calendar: ServiceCalendar) -> datetime:
    """The moment ``seconds`` of service-window time have passed since ``start``.

    With ``seconds == 0`` the answer is the next moment the window is open (a ticket registered on a
    Saturday with a zero budget is due when Monday's window opens).
    """
    start = aware(start)
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    if calendar.always:
        return start + timedelta(seconds=seconds)
    remaining = seconds
    d = start.astimezone(calendar.tz).date() - timedelta(days=1)
    for _ in range(_MAX_SEARCH_DAYS):
        for a, b in calendar.day_intervals(d):
            if b <= start:
                continue
            lo = max(a, start)
            length = (b - lo).total_seconds()
            if length > 0 and remaining <= length:
                return lo + timedelta(seconds=remaining)
            remaining -= length
        d += timedelta(days=1)
    raise CalendarError(f"calendar {calendar.name!r} has no working time for {seconds:g} s within "
                        f"{_MAX_SEARCH_DAYS} days of {start.isoformat()}")
