"""Language and formatting of console pages: messages, numbers, units, times in a customer's zone.

``translate(lang, key, **values)`` looks a key up in :mod:`collector.console.messages` (falling back
to English, then to the key itself, so a missing entry shows rather than fails). Metric names and
units come from the metric catalogue (``inspections/metrics.yaml``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.console import messages, messages_portal
from inspections import catalogue

DEFAULT_LANGUAGE = "zh"
CATALOGUES = {lang: {**messages.CATALOGUES[lang], **extra}
              for lang, extra in (("en", messages_portal.EN), ("zh", messages_portal.ZH))}


def preferred_language(accept_language: str | None) -> str:
    """zh or en from an ``Accept-Language`` header (its first zh or en tag), else the default."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def translate(lang: str, key: str, **values: object) -> str:
    text = CATALOGUES.get(lang, {}).get(key) or CATALOGUES["en"].get(key) or key
    return text.format(**values) if values else text


@cache
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_time(ms: int | float | None, tz: str | None, *, seconds: bool = False, lang: str = "en") -> str:
    """A unix-ms instant as local wall time in ``tz`` with the zone's abbreviation."""
    if ms is None:
        return translate(lang, "common.never")
    local = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def format_iso(text: str | datetime | None, tz: str | None, *, seconds: bool = False, lang: str = "en") -> str:
    """An ISO 8601 instant (or a datetime) as local wall time in ``tz``."""
    if text is None or text == "":
        return translate(lang, "common.never")
    when = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return format_time(when.timestamp() * 1000, tz, seconds=seconds, lang=lang)


def format_duration(seconds: float) -> str:
    """``2d 03h 10m``, ``3h 05m 09s``, ``4m 10s``: the largest units, seconds below a day."""
    s = int(abs(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    if d:
        return f"{d}d {h:02d}h {m:02d}m"
    if h:
        return f"{h}h {m:02d}m {sec:02d}s"
    return f"{m}m {sec:02d}s"


def format_number(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_value(value: float | None, unit: str) -> str:
    """A value with its catalogue unit, bytes scaled to KiB…PiB."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit in ("bytes", "bytes/s"):
        scaled, i = float(value), 0
        while abs(scaled) >= 1024 and i < len(_BYTE_UNITS) - 1:
            scaled /= 1024
            i += 1
        return f"{format_number(scaled)} {_BYTE_UNITS[i]}{'/s' if unit == 'bytes/s' else ''}"
    if unit == "%":
        return f"{format_number(value)} %"
    return f"{format_number(value)} {unit}".strip()


def metric_title(name: str, lang: str) -> str:
    return catalogue.display_name(name, lang)


def metric_unit(name: str) -> str:
    return catalogue.unit_of(name)
