"""Details of the Python checks that the four-status table does not pin down."""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import given

from inspections import EventRecord, EventStamps
from inspections.checks.logs import peak_in_window
from inspections.checks.reboot import distinct_boots
from tests.inspections.scenario import NOW, Scenario


def test_burst_window_slides_across_the_hour() -> None:
    # 30 attempts from 10:45 to 11:14: fixed hourly buckets would see 15 + 15.
    start = NOW.replace(hour=10, minute=45) - timedelta(days=1)
    events = [EventRecord(start + timedelta(minutes=i), "sshd.failed_password", "warning") for i in range(30)]
    stamps = EventStamps.of(events)
    assert peak_in_window(stamps, timedelta(hours=1)) == 30
    assert peak_in_window(stamps, timedelta(minutes=10)) == 10
    weighted = [EventRecord(start, "auth.failure", "warning", suppressed_before=99)]
    assert peak_in_window(EventStamps.of(weighted), timedelta(hours=1)) == 100
    assert peak_in_window(EventStamps.of([]), timedelta(hours=1)) == 0


@given(st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 50)), max_size=60), st.integers(1, 7200))
def test_burst_peak_equals_the_largest_count_of_any_window(events: list[tuple[int, int]], width_s: int) -> None:
    """The sliding window is the brute force: for each event, the weight of those within ``width``
    before it (and at it)."""
    start = NOW - timedelta(days=1)
    records = sorted((EventRecord(start + timedelta(seconds=t), "auth.failure", "warning", suppressed_before=extra)
                      for t, extra in events), key=lambda e: e.ts)
    width = timedelta(seconds=width_s)
    expected = max((sum(o.weight for o in records if e.ts - width < o.ts <= e.ts) for e in records), default=0)
    assert peak_in_window(EventStamps.of(records), width) == expected


def test_boot_time_jitter_is_one_boot() -> None:
    assert distinct_boots([1000.0, 1001.0, 999.5, 5000.0, 5060.0, 9000.0]) == [999.5, 5000.0, 9000.0]


def test_reboots_are_counted_since_the_previous_inspection() -> None:
    s = Scenario()
    boot = (s.now - timedelta(hours=30)).timestamp()
    old_boot = (s.now - timedelta(days=90)).timestamp()
    s.series("system.boot_time_seconds", lambda i: boot if i >= 100 else old_boot)
    s.host_with(boot_time=s.now - timedelta(hours=30))
    assert s.run("security.reboots")[0].observed == 1.0
    s.previous_run_at = s.now - timedelta(hours=24)  # the reboot was before the last inspection
    assert s.run("security.reboots")[0].observed == 0.0


def test_backup_with_a_single_file_has_nothing_to_compare() -> None:
    s = (
        Scenario()
        .latest("probe.backup_files", 1, {"path": "/backup"})
        .latest("probe.backup_newest_size_bytes", 100, {"path": "/backup"})
    )
    result = s.result("security.backup_size")
    assert result.hosts[0].findings == []
    assert "two files" in result.hosts[0].skipped[0].reason


def test_backup_empty_newest_is_critical() -> None:
    s = Scenario()
    for name, value in [
        ("probe.backup_files", 3),
        ("probe.backup_newest_size_bytes", 0),
        ("probe.backup_previous_size_bytes", 0),
    ]:
        s.latest(name, value, {"path": "/backup"})
    [finding] = s.run("security.backup_size")
    assert finding.status == "critical" and finding.note and "empty" in finding.note["en"]


def test_error_rate_counts_only_error_and_critical_with_suppressed() -> None:
    s = Scenario().event("app.error", "error", count=10, suppressed_before=9).event("app.info", "info", count=1000)
    [finding] = s.run("logs.error_rate")
    assert finding.observed == 100 / 48
    assert finding.evidence.rules == ("app.error",)


def test_heartbeat_in_the_future_is_zero() -> None:
    s = Scenario().host_with(last_seen=NOW + timedelta(seconds=5))
    assert s.run("device.heartbeat")[0].observed == 0.0
