"""Service-window arithmetic across nights, weekends, holidays, make-up days, time zones and DST."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from collector.tickets.calendar import (
    CalendarError,
    ServiceCalendar,
    business_seconds_between,
    deadline_after,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
H = 3600.0

# China's 2025 National Day: Oct 1–8 off, Sunday Sep 28 and Saturday Oct 11 worked instead (调休).
NATIONAL_DAY = [date(2025, 10, d) for d in range(1, 9)]
MAKEUP = [date(2025, 9, 28), date(2025, 10, 11)]


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


@pytest.fixture
def office() -> ServiceCalendar:
    """5×8 as in one contract: Monday to Friday 09:30–19:30 in Beijing time, with holidays."""
    return ServiceCalendar.build(timezone="Asia/Shanghai", days="mon-fri", hours=["09:30-19:30"],
                                 holidays=NATIONAL_DAY, workdays=MAKEUP, name="5x8")


def test_overnight_counts_only_window_hours(office: ServiceCalendar) -> None:
    # Tuesday 18:30 → Wednesday 10:30: one hour each evening and morning.
    assert business_seconds_between(sh(2025, 6, 3, 18, 30), sh(2025, 6, 4, 10, 30), office) == 2 * H
    # Entirely at night: nothing counts.
    assert business_seconds_between(sh(2025, 6, 3, 20, 0), sh(2025, 6, 4, 9, 0), office) == 0


def test_weekend_is_skipped(office: ServiceCalendar) -> None:
    friday_evening = sh(2025, 6, 6, 18, 30)
    assert business_seconds_between(friday_evening, sh(2025, 6, 9, 10, 30), office) == 2 * H
    # A 2 h response target registered on Friday 18:30 is due Monday 10:30 Beijing time.
    assert deadline_after(friday_evening, 2 * H, office) == sh(2025, 6, 9, 10, 30)
    # Registered on Saturday with any budget: the clock starts when Monday's window opens.
    assert deadline_after(sh(2025, 6, 7, 12, 0), 0, office) == sh(2025, 6, 9, 9, 30)
    assert deadline_after(sh(2025, 6, 7, 12, 0), 30 * 60, office) == sh(2025, 6, 9, 10, 0)


def test_holidays_and_makeup_working_days(office: ServiceCalendar) -> None:
    # Tuesday Sep 30 18:00 with 4 h: 1.5 h that evening, then National Day (Oct 1–8) and its weekend,
    # then 2.5 h on Thursday Oct 9.
    assert deadline_after(sh(2025, 9, 30, 18, 0), 4 * H, office) == sh(2025, 10, 9, 12, 0)
    # Sunday Sep 28 is a working day, Saturday Sep 27 is not.
    assert business_seconds_between(sh(2025, 9, 27, 0, 0), sh(2025, 9, 29, 0, 0), office) == 10 * H
    assert office.contains(sh(2025, 9, 28, 12, 0))
    assert not office.contains(sh(2025, 10, 2, 12, 0))
    # Saturday Oct 11 is worked too.
    assert deadline_after(sh(2025, 10, 10, 19, 0), 1 * H, office) == sh(2025, 10, 11, 10, 0)


def test_deadline_at_the_window_end_is_that_evening(office: ServiceCalendar) -> None:
    # A whole day's budget from the opening ends at the closing, not at the next morning's opening.
    assert deadline_after(sh(2025, 6, 3, 9, 30), 10 * H, office) == sh(2025, 6, 3, 19, 30)


def test_lunch_break_is_a_pause() -> None:
    cal = ServiceCalendar.build(timezone="Asia/Shanghai", days="mon-fri", hours=["09:00-12:00", "13:30-18:00"])
    assert deadline_after(sh(2025, 6, 3, 10, 0), 3.5 * H, cal) == sh(2025, 6, 3, 15, 0)
    assert business_seconds_between(sh(2025, 6, 3, 11, 0), sh(2025, 6, 3, 14, 0), cal) == 1.5 * H
    assert not cal.contains(sh(2025, 6, 3, 12, 30))
    assert cal.next_opening(sh(2025, 6, 3, 12, 30)) == sh(2025, 6, 3, 13, 30)


def test_7x24_counts_everything_and_the_same_instant_differs_by_zone() -> None:
    always = ServiceCalendar()
    start = datetime(2025, 6, 7, 22, 0, tzinfo=UTC)
    assert business_seconds_between(start, start + timedelta(days=2, hours=3), always) == 51 * H
    assert deadline_after(start, 10 * H, always) == start + timedelta(hours=10)
    # Monday 06:00–12:00 UTC: 14:00–20:00 in Beijing (5.5 h until 19:30), 08:00–14:00 in Berlin (4.5 h from 09:30).
    a, b = datetime(2025, 6, 2, 6, 0, tzinfo=UTC), datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    beijing = ServiceCalendar.build(timezone="Asia/Shanghai", days="mon-fri", hours=["09:30-19:30"])
    berlin = ServiceCalendar.build(timezone="Europe/Berlin", days="mon-fri", hours=["09:30-19:30"])
    assert business_seconds_between(a, b, beijing) == 5.5 * H
    assert business_seconds_between(a, b, berlin) == 4.5 * H


def test_windows_follow_wall_clock_across_daylight_saving() -> None:
    # Berlin springs forward on Sunday 2025-03-30: a whole-day window that Sunday is 23 h long, and a
    # 09:00–17:00 window stays 09:00–17:00 local time on both sides of the change.
    cal = ServiceCalendar.build(timezone="Europe/Berlin", days="all", hours=["00:00-24:00"],
                                holidays=[date(2025, 12, 25)])
    sunday = datetime(2025, 3, 30, tzinfo=BERLIN)
    assert business_seconds_between(sunday, datetime(2025, 3, 31, tzinfo=BERLIN), cal) == 23 * H
    office = ServiceCalendar.build(timezone="Europe/Berlin", days="all", hours=["09:00-17:00"])
    before = deadline_after(datetime(2025, 3, 29, 16, 0, tzinfo=BERLIN), 2 * H, office)
    assert before == datetime(2025, 3, 30, 10, 0, tzinfo=BERLIN)
    assert before == datetime(2025, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 summer time, not 09:00 UTC+1


def test_deadline_and_elapsed_are_inverse(office: ServiceCalendar) -> None:
    rnd = random.Random(7)
    base = sh(2025, 9, 20, 0, 0)
    for _ in range(300):
        start = base + timedelta(minutes=rnd.randrange(0, 60 * 24 * 40))
        budget = rnd.choice([0.0, 600.0, 2 * H, 4 * H, 12 * H, 24 * H, 50 * H])
        due = deadline_after(start, budget, office)
        assert business_seconds_between(start, due, office) == pytest.approx(budget)
        assert due >= start
        if budget > 0:
            # Due means "exactly used up": a minute earlier it was not.
            assert business_seconds_between(start, due - timedelta(minutes=1), office) < budget


def test_open_and_closed_moments(office: ServiceCalendar) -> None:
    assert office.contains(sh(2025, 6, 3, 9, 30))
    assert not office.contains(sh(2025, 6, 3, 19, 30))  # the end is exclusive
    assert office.next_opening(sh(2025, 6, 6, 20, 0)) == sh(2025, 6, 9, 9, 30)
    assert office.next_opening(sh(2025, 6, 3, 12, 0)) == sh(2025, 6, 3, 12, 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"days": "mon-fry"}, "unknown weekday"),
    ({"hours": ["19:30-09:30"]}, "start must be before the end"),
    ({"hours": ["9.30-19.30"]}, "must look like"),
    ({"hours": ["09:00-12:00", "11:00-14:00"]}, "overlap"),
    ({"timezone": "Beijing"}, "unknown time zone"),
    ({"holidays": [date(2025, 10, 1)], "workdays": [date(2025, 10, 1)]}, "both as a holiday"),
])
def test_bad_windows_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        ServiceCalendar.build(**kwargs)  # type: ignore[arg-type]


def test_naive_times_are_refused(office: ServiceCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        business_seconds_between(datetime(2025, 6, 3, 10), datetime(2025, 6, 3, 12), office)
