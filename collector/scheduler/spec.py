"""What a feature declares about one periodic job: its id, name, function and default trigger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger


@dataclass(frozen=True)
class Every:
    """A fixed interval, in seconds."""

    seconds: float

    def trigger(self, timezone: tzinfo) -> BaseTrigger:
        return IntervalTrigger(seconds=self.seconds, timezone=timezone)

    def describe(self) -> str:
        return f"every {_duration(self.seconds)}"


@dataclass(frozen=True)
class Cron:
    """A crontab expression (minute hour day month weekday), in ``timezone`` or UTC."""

    expression: str
    timezone: str | None = None

    def trigger(self, timezone: tzinfo) -> BaseTrigger:
        from zoneinfo import ZoneInfo

        return CronTrigger.from_crontab(self.expression,
                                        timezone=ZoneInfo(self.timezone) if self.timezone else timezone)

    def describe(self) -> str:
        return f"cron {self.expression}" + (f" ({self.timezone})" if self.timezone else "")


Schedule = Every | Cron


@dataclass(frozen=True)
class JobSpec:
    """One periodic job.

    ``id`` is stable (it keys the configuration, the run history and the metrics); ``name`` is what
    an operator reads in ``patrol jobs``. ``leader_only`` jobs run on the collector holding the
    group's lease and are recorded as skipped elsewhere; the others (retention of this collector's
    own data) run on every collector. ``start_delay`` sets the first run, in seconds after the
    scheduler starts (0: at once, which is how work missed while the collector was down is caught
    up); by default the first run is one period after start. ``pool`` gives a family of jobs a
    thread pool of its own (name, threads), so that many slow runs (SSH polls) cannot hold up the
    other jobs.
    """

    id: str
    name: str
    func: Callable[[], Any]
    schedule: Schedule
    leader_only: bool = True
    start_delay: float | None = None
    pool: tuple[str, int] | None = None
    configurable: bool = True  # whether ``jobs.<id>`` in the configuration may change the schedule


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
