"""A small builder of one host's data for check tests: series, latest values, events, overrides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from inspections import (
    EventRecord,
    Finding,
    HostInfo,
    InspectionResult,
    MemoryData,
    Profile,
    builtin_library,
    parse_overrides_text,
    run_inspection,
)

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
WINDOW = timedelta(days=2)
STEP = timedelta(minutes=10)
SAMPLES = int(WINDOW / STEP)  # samples per series over the window

Value = float | Callable[[int], float]


class Scenario:
    def __init__(self) -> None:
        self.data = MemoryData()
        self.now = NOW
        self.since = NOW - WINDOW
        self.host = HostInfo(
            host_id="h1",
            hostname="web-01",
            customer_id="acme",
            last_seen=NOW - timedelta(seconds=30),
            facts={"os": "Debian GNU/Linux 12 (bookworm)"},
            labels={"role": "web"},
            boot_time=NOW - timedelta(days=90),
        )
        self.overrides_text = ""
        self.previous_run_at: datetime | None = None

    def host_with(self, **changes: object) -> Scenario:
        self.host = replace(self.host, **changes)  # type: ignore[arg-type]
        return self

    def series(
        self,
        name: str,
        value: Value,
        labels: dict[str, str] | None = None,
        stop_before: timedelta = timedelta(0),
        bucket: timedelta = STEP,
    ) -> Scenario:
        """One sample per STEP over the window; ``value`` may depend on the sample index."""
        samples = []
        for i in range(SAMPLES):
            ts = self.since + i * STEP
            if ts >= self.now - stop_before:
                break
            samples.append((ts, value(i) if callable(value) else float(value)))
        self.data.record(self.host.host_id, name, labels, samples, bucket=bucket)
        return self

    def latest(
        self, name: str, value: float, labels: dict[str, str] | None = None, age: timedelta = timedelta(minutes=1)
    ) -> Scenario:
        self.data.add_latest(self.host.host_id, name, labels, self.now - age, value)
        return self

    def event(
        self,
        rule: str,
        severity: str = "error",
        ago: timedelta = timedelta(hours=1),
        count: int = 1,
        spacing: timedelta = timedelta(seconds=10),
        suppressed_before: int = 0,
    ) -> Scenario:
        for i in range(count):
            ts = self.now - ago + i * spacing
            self.data.add_event(
                self.host.host_id,
                EventRecord(ts, rule, severity, source="/var/log/syslog", suppressed_before=suppressed_before),  # type: ignore[arg-type]
            )
        return self

    def expect(self, yaml_text: str) -> Scenario:
        self.overrides_text = yaml_text
        return self

    def result(self, *check_ids: str) -> InspectionResult:
        library = builtin_library()
        profile = Profile(
            id="test",
            name={"zh": "测试", "en": "test"},
            description={"zh": "测试", "en": "test"},
            window=WINDOW,
            stale_after=timedelta(minutes=30),
            checks=tuple(library.get(c) for c in check_ids),
        )
        overrides = parse_overrides_text(self.overrides_text, "<test overrides>")
        return run_inspection(
            self.data,
            [self.host],
            profile,
            window=(self.since, self.now),
            overrides=overrides,
            now=self.now,
            previous_run_at=self.previous_run_at,
        )

    def run(self, check_id: str) -> list[Finding]:
        return [f for f in self.result(check_id).hosts[0].findings if f.check_id == check_id]


def down_at(*indexes: int, up: float = 1.0, down: float = 0.0) -> Callable[[int], float]:
    """A 1/0 (or count) series that is ``down`` at the given sample indexes (negative from the end)."""
    wanted = {i % SAMPLES for i in indexes}
    return lambda i: down if i in wanted else up
