"""SLA profiles (the §1 examples and configured ones) and clock status, warnings and breaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from collector.tickets.calendar import ServiceCalendar
from collector.tickets.config import TicketsConfig
from collector.tickets.model import Severity
from collector.tickets.sla import ClockRecord, clock_status, due_events, moment_of

SH = ZoneInfo("Asia/Shanghai")
H = 3600.0


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def test_shipped_profiles_carry_the_contract_figures() -> None:
    cfg = TicketsConfig()
    sw = cfg.sla_profile("software-plan", "Asia/Shanghai")
    assert [sw.target(s, "respond") for s in Severity] == [2 * H, 4 * H, 12 * H, 24 * H]
    assert [sw.target(s, "restore") for s in Severity] == [4 * H, 12 * H, 24 * H, None]  # L4 case by case
    hotline = cfg.sla_profile("hotline")
    assert hotline.target(Severity.L2, "respond") == 600
    assert hotline.target(Severity.L2, "restore") == 2 * H
    assert (hotline.plan_after, hotline.plan_within) == (2 * H, 2 * H)
    assert cfg.sla_profile("remote-service").target(Severity.L1, "respond") == H
    assert cfg.sla_profile("kiosk-hardware").target(Severity.L3, "on_site") == 12 * H
    field = cfg.sla_profile("field-equipment", "Asia/Shanghai")
    # Respond in working hours, but "2 calendar days" for the fix: its clock runs 7×24.
    assert field.calendar.name == "5x8" and field.calendar_for("restore").always
    assert field.target(Severity.L1, "restore") == 2 * 86400
    # A window without a zone of its own uses the customer's.
    assert cfg.sla_profile("software-plan-5x8", "Asia/Shanghai").calendar.tz == SH


def test_configured_profiles_windows_and_calendars() -> None:
    cfg = TicketsConfig.model_validate({
        "default_profile": "gold",
        "calendars": {"cn-2025": {"holidays": ["2025-10-01"], "workdays": ["2025-09-28"]}},
        "windows": {"office": {"days": "mon-fri", "hours": ["09:30-12:00", "13:30-19:30"], "calendar": "cn-2025",
                               "timezone": "Asia/Shanghai"}},
        "profiles": {"gold": {"window": "office", "warn_at": 0.5,
                              "targets": {"一级": {"respond": "30m", "restore": "2h"}, "all": {"respond": "1h"}}}},
        "customers": {"acme": {"profile": "hotline"}},
    })
    gold = cfg.sla_profile("gold", "UTC")
    assert gold.target(Severity.L1, "respond") == 1800 and gold.target(Severity.L3, "respond") == 3600
    assert gold.target(Severity.L1, "restore") == 7200 and gold.target(Severity.L2, "restore") is None
    assert gold.calendar.tz == SH and gold.warn_at == 0.5
    assert gold.calendar.is_working_day(datetime(2025, 9, 28).date())
    assert not gold.calendar.is_working_day(datetime(2025, 10, 1).date())
    assert cfg.profile_name("acme") == "hotline" and cfg.profile_name("other") == "gold"


@pytest.mark.parametrize(("section", "message"), [
    ({"default_profile": "platinum"}, "default_profile 'platinum' is not a profile"),
    ({"customers": {"acme": {"profile": "nope"}}}, "customers.acme.profile 'nope'"),
    ({"profiles": {"x": {"window": "9to5"}}}, "window '9to5' is not a window"),
    ({"windows": {"w": {"calendar": "cn"}}}, "unknown calendar 'cn'"),
    ({"windows": {"w": {"hours": ["9-17"]}}}, "must look like 09:30-19:30"),
    ({"profiles": {"x": {"targets": {"L5": {"respond": "1h"}}}}}, "unknown severity"),
    ({"profiles": {"x": {"targets": {"L1": {"respond": "soon"}}}}}, "duration"),
    ({"profiles": {"x": {"plan_within": "2h"}}}, "plan_within needs plan_after"),
    ({"profiles": {"x": {"warn_at": 1.5}}}, "less than 1"),
])
def test_bad_sections_name_the_problem(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TicketsConfig.model_validate(section)


@pytest.fixture
def office() -> ServiceCalendar:
    return ServiceCalendar.build(timezone="Asia/Shanghai", days="mon-fri", hours=["09:30-19:30"])


def test_clock_pauses_outside_the_window(office: ServiceCalendar) -> None:
    rec = ClockRecord("respond", 4 * H)
    rec.start(sh(2025, 6, 6, 17, 30))  # Friday 17:30, 2 h left that day
    saturday = clock_status(rec, office, sh(2025, 6, 7, 11, 0))
    assert saturday.paused and saturday.status == "paused" and not saturday.breached
    assert saturday.elapsed_s == 2 * H and saturday.remaining_s == 2 * H
    assert saturday.deadline == sh(2025, 6, 9, 11, 30)
    monday = clock_status(rec, office, sh(2025, 6, 9, 12, 0))
    assert monday.breached and monday.status == "breached" and monday.remaining_s == -0.5 * H


def test_warning_and_breach_moments_are_exact_and_reported_once(office: ServiceCalendar) -> None:
    rec = ClockRecord("restore", 10 * H)
    rec.start(sh(2025, 6, 6, 15, 30))  # Friday: 4 h on Friday, 6 h on Monday
    assert due_events(rec, office, 0.8, sh(2025, 6, 9, 13, 0)) == []
    events = due_events(rec, office, 0.8, sh(2025, 6, 9, 14, 0))
    assert events == [("warning", sh(2025, 6, 9, 13, 30))]
    rec.warned_at = events[0][1]
    assert due_events(rec, office, 0.8, sh(2025, 6, 9, 15, 0)) == []
    events = due_events(rec, office, 0.8, sh(2025, 6, 10, 9, 0))
    assert events == [("breach", sh(2025, 6, 9, 15, 30))]
    rec.breached_at = events[0][1]
    assert due_events(rec, office, 0.8, sh(2025, 6, 11, 9, 0)) == []


def test_a_clock_over_several_intervals(office: ServiceCalendar) -> None:
    # Resolved after 3 h, reopened the next day: the target counts both runs and not the gap.
    rec = ClockRecord("resolve", 5 * H)
    rec.start(sh(2025, 6, 3, 10, 0))
    rec.stop(sh(2025, 6, 3, 13, 0), "met")
    assert due_events(rec, office, 0.8, sh(2025, 6, 4, 18, 0)) == []  # stopped before any threshold
    rec.start(sh(2025, 6, 4, 10, 0))
    assert moment_of(rec, office, 5 * H, sh(2025, 6, 4, 10, 0)) == sh(2025, 6, 4, 12, 0)
    st = clock_status(rec, office, sh(2025, 6, 4, 11, 0))
    assert st.elapsed_s == 4 * H and st.status == "running" and st.deadline == sh(2025, 6, 4, 12, 0)


def test_a_clock_stopped_late_records_its_breach(office: ServiceCalendar) -> None:
    rec = ClockRecord("respond", 2 * H)
    rec.start(sh(2025, 6, 3, 10, 0))
    rec.stop(sh(2025, 6, 3, 13, 0), "met")
    assert due_events(rec, office, 0.8, sh(2025, 6, 3, 14, 0)) == [("breach", sh(2025, 6, 3, 12, 0))]
    assert clock_status(rec, office, sh(2025, 6, 3, 14, 0)).status == "met_late"


def test_a_clock_without_target_is_tracked_never_breached() -> None:
    rec = ClockRecord("restore", None)
    rec.start(datetime(2025, 1, 1, tzinfo=UTC))
    st = clock_status(rec, ServiceCalendar(), datetime(2025, 3, 1, tzinfo=UTC))
    assert st.elapsed_s == timedelta(days=59).total_seconds()
    assert st.remaining_s is None and not st.breached and st.deadline is None
    assert due_events(rec, ServiceCalendar(), 0.8, datetime(2025, 3, 1, tzinfo=UTC)) == []
