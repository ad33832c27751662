"""Values as a person reads them: sizes in KiB/MiB/GiB, percentages, rates, durations, "unlimited".

Series carry their unit in the name (``_bytes``, ``_percent``, ``_per_s``, ``_seconds``, ``_celsius``;
see docs/metrics.md), so the series name is enough to format its value. JSON and CSV output keep the
raw numbers; only tables and messages go through here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector.tickets.messages import duration

# Kernels report "no limit" as the largest value of their type (fs.file-max on 64-bit Linux is
# 2^63 - 1, RLIM_INFINITY is 2^64 - 1); no real capacity comes near 2^60.
UNLIMITED_FROM = 2.0**60
NOT_APPLICABLE = "n/a (no limit)"
# A percentage of a limit means nothing when the limit is the platform's "unlimited".
_PERCENT_OF = {"fd.used_percent": "fd.max"}


def is_unlimited(value: float | None) -> bool:
    return value is not None and abs(value) >= UNLIMITED_FROM


def fmt_number(v: Any, digits: int = 1) -> str:
    """A float with thousands separators; "—" for no value, "unlimited" for the platform's maximum."""
    if v is None:
        return "—"
    if isinstance(v, float | int) and not isinstance(v, bool) and is_unlimited(float(v)):
        return "unlimited"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)  # integers in tables are mostly ids and counts: no separators


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    if is_unlimited(n):
        return "unlimited"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def fmt_percent(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f} %"


def fmt_series_value(name: str, value: float | None) -> str:
    """``value`` of the series ``name`` with its unit, e.g. ``disk.free_bytes`` 5.4e10 → ``50.3 GiB``."""
    if value is None:
        return "—"
    if is_unlimited(value):
        return "unlimited"
    if name.endswith("_bytes_per_s"):
        return f"{fmt_bytes(value)}/s"
    if name.endswith("_bytes"):
        return fmt_bytes(value)
    if name.endswith("_percent"):
        return fmt_percent(value)
    if name.endswith("_per_s"):
        return f"{value:,.1f}/s"
    if name == "system.boot_time_seconds":  # a moment, not a duration
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    if name.endswith("_seconds"):
        return duration(value)
    if name.endswith("_celsius"):
        return f"{value:,.1f} °C"
    if name.endswith("_rpm"):
        return f"{value:,.0f} rpm"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def fmt_latest(values: list[dict[str, Any]]) -> list[str]:
    """The formatted value of each of a host's latest values (``name``, ``labels``, ``value``).

    A percentage of a limit the platform reports as unlimited (``fd.used_percent`` against ``fd.max``)
    is not applicable, not the 0.00 % the division gives.
    """
    unlimited = {v["name"] for v in values if is_unlimited(v["value"])}
    return [NOT_APPLICABLE if _PERCENT_OF.get(v["name"]) in unlimited else fmt_series_value(v["name"], v["value"])
            for v in values]


def fmt_quantity(value: float | None, unit: str, digits: int = 2) -> str:
    """A value with a free-form unit as the check library writes it ("%", "bytes", "s", "days", "events/h")."""
    if value is None:
        return "—"
    if unit in ("bytes", "B"):
        return fmt_bytes(value)
    if unit == "s":
        return duration(value) if value >= 60 else f"{value:,.{digits}f} s"
    return f"{fmt_number(float(value), digits)} {unit}".strip()
