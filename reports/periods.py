"""Report periods: calendar months (``2026-10``) and quarters (``2026Q3``) in a customer's time zone.

A period is a half-open interval ``[start, end)`` of local calendar time: October in Shanghai starts
at 2026-10-01 00:00 +08:00, which is 2026-09-30 16:00 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

ReportKind = Literal["monthly", "quarterly"]
KINDS: tuple[ReportKind, ...] = ("monthly", "quarterly")

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")


class PeriodError(ValueError):
    """A period that cannot be read; the message shows the accepted forms."""


@dataclass(frozen=True, order=True)
class Period:
    kind: ReportKind
    year: int
    index: int  # month 1–12, or quarter 1–4

    def __post_init__(self) -> None:
        top = 12 if self.kind == "monthly" else 4
        if not 1 <= self.index <= top or not 1970 <= self.year <= 9999:
            raise PeriodError(f"no such {self.kind} period: {self.year} #{self.index}")

    @classmethod
    def parse(cls, text: str, kind: ReportKind | None = None) -> Period:
        """``2026-10`` (a month) or ``2026Q3`` / ``2026-Q3`` (a quarter); ``kind`` insists on one."""
        value = text.strip()
        month, quarter = _MONTH.match(value), _QUARTER.match(value)
        if month and kind != "quarterly":
            try:
                return cls("monthly", int(month[1]), int(month[2]))
            except PeriodError:
                raise PeriodError(f"{text!r} is not a month: use YYYY-MM with a month 01–12, e.g. 2026-10") from None
        if quarter and kind != "monthly":
            return cls("quarterly", int(quarter[1]), int(quarter[2]))
        wanted = {"monthly": "a month as YYYY-MM, e.g. 2026-10", "quarterly": "a quarter as YYYYQn, e.g. 2026Q3",
                  None: "a month (YYYY-MM, e.g. 2026-10) or a quarter (YYYYQn, e.g. 2026Q3)"}[kind]
        raise PeriodError(f"cannot read period {text!r}: give {wanted}")

    @classmethod
    def containing(cls, kind: ReportKind, moment: datetime, tz: tzinfo) -> Period:
        local = moment.astimezone(tz)
        if kind == "monthly":
            return cls("monthly", local.year, local.month)
        return cls("quarterly", local.year, (local.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}-{self.index:02d}" if self.kind == "monthly" else f"{self.year}Q{self.index}"

    @property
    def first_month(self) -> int:
        return self.index if self.kind == "monthly" else 3 * (self.index - 1) + 1

    def start(self, tz: tzinfo) -> datetime:
        return datetime(self.year, self.first_month, 1, tzinfo=tz)

    def end(self, tz: tzinfo) -> datetime:
        return self.next().start(tz)

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        return self.start(tz), self.end(tz)

    def next(self) -> Period:
        top = 12 if self.kind == "monthly" else 4
        if self.index == top:
            return Period(self.kind, self.year + 1, 1)
        return Period(self.kind, self.year, self.index + 1)

    def previous(self) -> Period:
        top = 12 if self.kind == "monthly" else 4
        if self.index == 1:
            return Period(self.kind, self.year - 1, top)
        return Period(self.kind, self.year, self.index - 1)

    def months(self) -> list[Period]:
        """The months of the period (itself for a month)."""
        if self.kind == "monthly":
            return [self]
        return [Period("monthly", self.year, self.first_month + i) for i in range(3)]
