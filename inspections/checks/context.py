"""What a check sees while it evaluates one host: the host, the window and its data, memoised.

One context lives for one host of one run. Every series name is fetched from the data source at
most once and shared by all checks of the profile, which keeps a run at a few calls per host and
series name no matter how many checks read the same series.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from inspections.data import EventRecord, EventStamps, HostInfo, InspectionData, LatestValue, SeriesRollup, from_epoch
from inspections.expectations import HostExpectations

# The widest rollup tier; used as the bucket width when a series has a single bucket to infer from.
DEFAULT_BUCKET = timedelta(hours=1)


class CheckContext:
    def __init__(
        self,
        data: InspectionData,
        host: HostInfo,
        since: datetime,
        until: datetime,
        now: datetime,
        previous_run_at: datetime | None,
        stale_after: timedelta,
        expectations: HostExpectations,
    ) -> None:
        self.data = data
        self.host = host
        self.since = since
        self.until = until
        self.now = now
        self.previous_run_at = previous_run_at
        self.stale_after = stale_after
        self.expectations = expectations
        self._rollups: dict[tuple[str, datetime], list[SeriesRollup]] = {}
        self._latest: dict[str, list[LatestValue]] = {}
        self._event_counts: dict[tuple[str, ...] | None, dict[str, int]] = {}
        self._events: dict[tuple[tuple[str, ...] | None, tuple[str, ...] | None, int], list[EventRecord]] = {}
        self._stamps: dict[tuple[tuple[str, ...] | None, tuple[str, ...] | None, int], EventStamps] = {}

    @property
    def window_hours(self) -> float:
        return (self.until - self.since).total_seconds() / 3600.0

    # -- data, memoised ----------------------------------------------------------------------------

    def rollups(self, name: str, since: datetime | None = None) -> list[SeriesRollup]:
        """All series called ``name`` with buckets in ``[since or window start, until)``."""
        start = since or self.since
        key = (name, start)
        if key not in self._rollups:
            self._rollups[key] = self.data.rollups(self.host.host_id, name, start, self.until)
        return self._rollups[key]

    def latest(self, name: str) -> list[LatestValue]:
        if name not in self._latest:
            self._latest[name] = self.data.latest(self.host.host_id, name)
        return self._latest[name]

    def event_counts(self, severities: list[str] | None = None) -> dict[str, int]:
        key = tuple(severities) if severities is not None else None
        if key not in self._event_counts:
            self._event_counts[key] = self.data.event_counts(
                self.host.host_id, self.since, self.until, severities=severities
            )
        return self._event_counts[key]

    def events(self, rules: list[str] | None, severities: list[str] | None, limit: int) -> list[EventRecord]:
        key = (tuple(rules) if rules is not None else None, tuple(severities) if severities else None, limit)
        if key not in self._events:
            self._events[key] = self.data.events(
                self.host.host_id, self.since, self.until, rules, limit, severities=severities
            )
        return self._events[key]

    def event_stamps(self, rules: list[str] | None, severities: list[str] | None, limit: int) -> EventStamps:
        """Times and weights of the events :meth:`events` would return."""
        key = (tuple(rules) if rules is not None else None, tuple(severities) if severities else None, limit)
        if key not in self._stamps:
            self._stamps[key] = self.data.event_stamps(
                self.host.host_id, self.since, self.until, rules, limit, severities=severities
            )
        return self._stamps[key]

    # -- freshness ---------------------------------------------------------------------------------

    def host_stale_reason(self) -> str | None:
        """Why data that is *absent* cannot be trusted to mean "nothing happened", if it cannot."""
        last_seen = self.host.last_seen
        if last_seen is None:
            return "the host has never reported, so missing events prove nothing"
        limit = min(self.until, self.now) - self.stale_after
        if last_seen < limit:
            return f"the host has not reported since {last_seen.isoformat()}; events after that are missing"
        return None

    def latest_stale_reason(self, value: LatestValue) -> str | None:
        if value.ts < self.now - self.stale_after:
            return (
                f"the newest value of {value.name} is from {value.ts.isoformat()}, older than "
                f"{_human(self.stale_after)}: the agent or its probe stopped reporting"
            )
        return None

    def rollup_stale_reason(self, series: SeriesRollup) -> str | None:
        columns = series.columns()
        if not len(columns):
            return f"no {series.name} data in the window"
        width = columns.bucket_seconds() or DEFAULT_BUCKET.total_seconds()
        newest_end = from_epoch(float(columns.ts[-1]) + width)
        # One bucket of grace: a store may not show the bucket in progress yet, and calling a whole
        # month "unknown" for that would be far worse than judging it on data an hour older.
        if newest_end < min(self.until, self.now) - self.stale_after - timedelta(seconds=width):
            return (
                f"no {series.name} data since {newest_end.isoformat()} (stale for more than "
                f"{_human(self.stale_after)} before the end of the window)"
            )
        return None


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
