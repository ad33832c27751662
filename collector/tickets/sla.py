"""SLA profiles and clocks: pure arithmetic over service calendars, with the time passed in.

A ticket has one clock per promise (service-requirements §1: "separate clocks per ticket"):

- ``respond``  from registration until someone responds (acknowledges);
- ``on_site``  from registration until an engineer is on site (only when a visit is required);
- ``restore``  until service is restored (a workaround or the fix);
- ``resolve``  until the fault is resolved;
- ``plan``     from the moment "not fixed within N h" triggers until the written plan is sent.

A clock is a list of running intervals (a reopen starts a new one) measured in the profile's service
window: time outside the window does not count, so a clock is *paused* at night, at weekends and on
holidays of a 5×8 profile. Warning and breach moments are computed exactly from the intervals, not
from when an evaluation happened to run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.tickets.calendar import ServiceCalendar, business_seconds_between, deadline_after
from collector.tickets.model import Severity

CLOCKS = ("respond", "on_site", "restore", "resolve", "plan")

__all__ = ["CLOCKS", "ClockRecord", "ClockStatus", "SlaProfile", "business_seconds_between", "clock_status",
           "deadline_after", "due_events", "moment_of"]


@dataclass(frozen=True)
class SlaProfile:
    """Targets per severity and clock, in seconds of service-window time (None: case by case)."""

    name: str
    calendar: ServiceCalendar
    targets: dict[Severity, dict[str, float | None]]
    clock_calendars: dict[str, ServiceCalendar] = field(default_factory=dict)
    warn_at: float = 0.8
    plan_after: float | None = None
    plan_within: float | None = None
    description: str = ""

    def calendar_for(self, clock: str) -> ServiceCalendar:
        return self.clock_calendars.get(clock, self.calendar)

    def target(self, severity: Severity, clock: str) -> float | None:
        if clock == "plan":
            return self.plan_within
        return self.targets.get(severity, {}).get(clock)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "window": self.calendar.name,
            "timezone": str(self.calendar.tz), "warn_at": self.warn_at, "plan_after_s": self.plan_after,
            "plan_within_s": self.plan_within,
            "clock_windows": {k: c.name for k, c in self.clock_calendars.items()},
            "targets_s": {s.value: dict(t) for s, t in self.targets.items()},
        }


@dataclass
class ClockRecord:
    """What is stored per ticket and clock."""

    clock: str
    target_s: float | None
    intervals: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    stop_reason: str | None = None  # met | resolved (ticket resolved before the event) | cancelled
    warned_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def running(self) -> bool:
        return bool(self.intervals) and self.intervals[-1][1] is None

    @property
    def stopped_at(self) -> datetime | None:
        return None if not self.intervals or self.running else self.intervals[-1][1]

    def start(self, t: datetime) -> None:
        if not self.running:
            self.intervals.append((t, None))
            self.stop_reason = None

    def stop(self, t: datetime, reason: str) -> None:
        if self.running:
            start, _ = self.intervals[-1]
            self.intervals[-1] = (start, max(t, start))
            self.stop_reason = reason

    def to_json(self) -> list[list[int | None]]:
        return [[int(a.timestamp() * 1000), None if b is None else int(b.timestamp() * 1000)]
                for a, b in self.intervals]


def elapsed(record: ClockRecord, calendar: ServiceCalendar, now: datetime) -> float:
    return sum(business_seconds_between(a, b if b is not None else now, calendar) for a, b in record.intervals)


def moment_of(record: ClockRecord, calendar: ServiceCalendar, budget: float, now: datetime) -> datetime | None:
    """When the clock's elapsed time reached (or, while running, will reach) ``budget`` seconds.

    None when a stopped clock never got there.
    """
    used = 0.0
    for a, b in record.intervals:
        end = b if b is not None else None
        span = business_seconds_between(a, end if end is not None else now, calendar)
        if end is None or used + span >= budget:
            at = deadline_after(a, max(0.0, budget - used), calendar)
            if end is None or at <= end:
                return at
        used += span
    return None


@dataclass(frozen=True)
class ClockStatus:
    clock: str
    target_s: float | None
    elapsed_s: float
    remaining_s: float | None
    deadline: datetime | None
    running: bool
    paused: bool
    breached: bool
    status: str  # running | paused | breached | met | met_late | stopped | untracked
    started_at: datetime | None
    stopped_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    window: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def clock_status(record: ClockRecord, calendar: ServiceCalendar, now: datetime) -> ClockStatus:
    used = elapsed(record, calendar, now)
    target = record.target_s
    breached = target is not None and (used >= target or record.breached_at is not None)
    deadline = moment_of(record, calendar, target, now) if target is not None and record.running else None
    paused = record.running and not calendar.contains(now)
    if not record.intervals:
        status = "untracked"
    elif record.running:
        status = "breached" if breached else ("paused" if paused else "running")
    elif record.stop_reason == "met":
        status = "met_late" if breached else "met"
    else:
        status = "stopped"
    return ClockStatus(
        clock=record.clock, target_s=target, elapsed_s=round(used, 3),
        remaining_s=None if target is None else round(target - used, 3), deadline=deadline,
        running=record.running, paused=paused, breached=breached, status=status,
        started_at=record.intervals[0][0] if record.intervals else None, stopped_at=record.stopped_at,
        warned_at=record.warned_at, breached_at=record.breached_at, window=calendar.name,
    )


def due_events(record: ClockRecord, calendar: ServiceCalendar, warn_at: float, now: datetime
               ) -> list[tuple[str, datetime]]:
    """Warning/breach moments that have passed and are not recorded yet, each exactly once.

    A stopped clock gets no late warning (nobody can act on it), but a breach that happened before it
    stopped is still recorded: compliance reports count it.
    """
    target = record.target_s
    if target is None or not record.intervals:
        return []
    out: list[tuple[str, datetime]] = []
    if record.warned_at is None and record.breached_at is None and record.running:
        at = moment_of(record, calendar, warn_at * target, now)
        if at is not None and at <= now:
            out.append(("warning", at))
    if record.breached_at is None:
        at = moment_of(record, calendar, target, now)
        if at is not None and at <= now and (record.running or (record.stopped_at is not None
                                                                and at < record.stopped_at)):
            out.append(("breach", at))
    return out
