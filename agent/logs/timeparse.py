"""The time written at the start of a log line, as tz-aware UTC.

Formats, tried by the first character of the line so a miss costs one comparison:

- syslog (RFC 3164) ``Jun 14 15:16:01``, no year: the year is the latest one that does not put
  the line more than a day after the observation time, so ``Dec 31 23:59:59`` read on 2 January is
  last year and ``Jan  1 00:00:01`` read on 31 December (a clock running a little ahead) is next
  year;
- ISO 8601 / RFC 3339 ``2024-01-02T03:04:05.678+08:00``, also with a space instead of ``T``, a
  comma before the fraction (Python logging ``2024-01-02 03:04:05,678``) or no zone;
- ``2024/01/02 03:04:05`` (nginx error log);
- a ``<PRI>`` prefix (RFC 5424 ``<34>1 2024-...`` or RFC 3164 ``<34>Jun 14 ...``) before either;
- ``[`` followed by one of the above, Apache's ``[Wed Oct 11 14:32:52.123 2000]``, or the common
  log format ``10/Oct/2000:13:55:36 -0700`` anywhere in the first 200 characters (nginx access).

Times without a zone are in ``tz``: the host's local zone for the agent, chosen by the caller for
offline analysis of someone else's log.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
# A line stamped up to this far after it was observed is still taken as this year's: clocks and
# zones of writer and reader disagree a little, a year's difference never is that little.
FUTURE_SLACK = timedelta(days=1)

_SYSLOG = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: (\d{4})\b)?")
_ISO = re.compile(
    r"(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r" ?(Z|[+-]\d{2}(?::?\d{2})?\b)?"
)
_CTIME = re.compile(r"(?:[A-Z][a-z]{2}) ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? (\d{4})")
_CLF = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})")
_PRI = re.compile(r"<\d{1,3}>(?:1 )?")


def local_timezone() -> tzinfo:
    """The host's zone with its DST rules (not just today's offset), falling back to UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name:
            return ZoneInfo(name)
        localtime = Path("/etc/localtime")
        if localtime.exists():
            with localtime.open("rb") as fh:
                return ZoneInfo.from_file(fh, key="localtime")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    offset = datetime.now().astimezone().tzinfo
    return offset if offset is not None else UTC


def parse_time(line: str, observed: datetime, tz: tzinfo = UTC) -> datetime | None:
    """The timestamp at the start of ``line`` in UTC, or ``None`` when there is none."""
    if not line:
        return None
    first = line[0]
    if first == "<":
        m = _PRI.match(line)
        if m is None:
            return None
        line = line[m.end() :]
        if not line:
            return None
        first = line[0]
    if first == "[":
        return _bracketed(line, observed, tz)
    if "A" <= first <= "Z":
        return _syslog(line, observed, tz) or _ctime(line, tz)
    if "0" <= first <= "9":
        return _iso(line, tz) or _clf(line)
    return _clf(line)


def _bracketed(line: str, observed: datetime, tz: tzinfo) -> datetime | None:
    inner = line[1:]
    if inner[:1].isdigit():
        return _iso(inner, tz) or _clf(line)
    if inner[:1].isupper():
        return _ctime(inner, tz) or _syslog(inner, observed, tz)
    return None


def _micro(fraction: str | None) -> int:
    return int(fraction[:6].ljust(6, "0")) if fraction else 0


def _build(year: int, month: int, day: int, hh: str, mm: str, ss: str, frac: str | None, tz: tzinfo) -> datetime:
    second = min(int(ss), 59)  # a leap second ("60") is kept within its minute
    return datetime(year, month, day, int(hh), int(mm), second, _micro(frac), tzinfo=tz).astimezone(UTC)


def _syslog(line: str, observed: datetime, tz: tzinfo) -> datetime | None:
    m = _SYSLOG.match(line)
    if m is None:
        return None
    month = MONTHS.get(m.group(1))
    if month is None:
        return None
    day = int(m.group(2))
    hh, mm, ss, frac, year = m.group(3, 4, 5, 6, 7)
    try:
        if year:
            return _build(int(year), month, day, hh, mm, ss, frac, tz)
        return _infer_year(month, day, hh, mm, ss, frac, observed, tz)
    except ValueError:
        return None


def _infer_year(
    month: int, day: int, hh: str, mm: str, ss: str, frac: str | None, observed: datetime, tz: tzinfo
) -> datetime | None:
    limit = observed.astimezone(UTC) + FUTURE_SLACK
    # Candidates from next year backwards; Feb 29 only exists in leap years, hence up to 8 tries.
    for year in range(observed.year + 1, observed.year - 8, -1):
        try:
            stamp = _build(year, month, day, hh, mm, ss, frac, tz)
        except ValueError:
            continue
        if stamp <= limit:
            return stamp
    return None


def _iso(line: str, tz: tzinfo) -> datetime | None:
    m = _ISO.match(line)
    if m is None:
        return None
    year, month, day, hh, mm, ss, frac, zone = m.groups()
    zone_tz = tz if zone is None else _zone(zone)
    try:
        return _build(int(year), int(month), int(day), hh, mm, ss, frac, zone_tz)
    except ValueError:
        return None


def _zone(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _ctime(line: str, tz: tzinfo) -> datetime | None:
    m = _CTIME.match(line)
    if m is None:
        return None
    month = MONTHS.get(m.group(1))
    if month is None:
        return None
    try:
        hh, mm, ss, frac = m.group(3, 4, 5, 6)
        return _build(int(m.group(7)), month, int(m.group(2)), hh, mm, ss, frac, tz)
    except ValueError:
        return None


def _clf(line: str) -> datetime | None:
    if "/" not in line:
        return None
    m = _CLF.search(line, 0, 200)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, zone = m.groups()
    month = MONTHS.get(mon)
    if month is None:
        return None
    try:
        return _build(int(year), month, int(day), hh, mm, ss, None, _zone(zone))
    except ValueError:
        return None
