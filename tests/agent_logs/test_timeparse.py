"""Timestamps parsed from log lines, including syslog's missing year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from agent.logs.timeparse import parse_time

OBSERVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2024-01-02T03:04:05Z app started", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456789+08:00 x", datetime(2024, 1, 1, 19, 4, 5, 123456, tzinfo=UTC)),
        ("2024-01-02 03:04:05,678 ERROR boom", datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)),
        ("2024-01-02 03:04:05.5 -0130 x", datetime(2024, 1, 2, 4, 34, 5, 500000, tzinfo=UTC)),
        ("2024/01/02 03:04:05 [error] 12#0: x", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("<34>1 2024-01-02T03:04:05Z host app - - msg", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("[2024-01-02 03:04:05] worker: x", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("[Wed Oct 11 14:32:52.123 2000] [core:error] x", datetime(2000, 10, 11, 14, 32, 52, 123000, tzinfo=UTC)),
        (
            '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200',
            datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC),
        ),
        ("Feb 14 09:30:00 host sshd[1]: x", datetime(2026, 2, 14, 9, 30, tzinfo=UTC)),
        ("Mar  1 11:59:59 host x", datetime(2026, 3, 1, 11, 59, 59, tzinfo=UTC)),
        ("Mar  2 08:00:00 host x", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),  # a little ahead: still this year
        ("Mar  5 08:00:00 host x", datetime(2025, 3, 5, 8, 0, tzinfo=UTC)),  # days ahead: last year's
        ("Dec 10 06:55:46 LabSZ sshd[24200]: x", datetime(2025, 12, 10, 6, 55, 46, tzinfo=UTC)),
        ("Feb 29 01:02:03 host x", datetime(2024, 2, 29, 1, 2, 3, tzinfo=UTC)),  # the last leap year
    ],
)
def test_formats(line: str, expected: datetime) -> None:
    assert parse_time(line, OBSERVED) == expected


@pytest.mark.parametrize("line", ["", "hello world", "Foo 12 10:00:00 x", "2024-13-45T99:00:00Z", "12345 x", "<99"])
def test_lines_without_a_time(line: str) -> None:
    assert parse_time(line, OBSERVED) is None


def test_year_rollover_december_read_in_january() -> None:
    observed = datetime(2025, 1, 2, 0, 5, tzinfo=UTC)
    assert parse_time("Dec 31 23:59:59 h x", observed) == datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_time("Jan  2 00:04:00 h x", observed) == datetime(2025, 1, 2, 0, 4, tzinfo=UTC)


def test_year_rollover_january_line_read_on_new_years_eve() -> None:
    # The writer's clock (or zone) is a little ahead of the reader's: the line is from next year.
    observed = datetime(2024, 12, 31, 23, 58, tzinfo=UTC)
    assert parse_time("Jan  1 00:00:01 h x", observed) == datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_never_more_than_a_day_in_the_future() -> None:
    observed = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    for month in ("Jan", "Jun", "Jul", "Dec"):
        stamp = parse_time(f"{month} 16 11:00:00 h x", observed)
        assert stamp is not None and stamp <= observed + timedelta(days=1)


def test_lines_without_a_zone_are_in_the_given_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert parse_time("2024-01-02 08:00:00 x", OBSERVED, shanghai) == datetime(2024, 1, 2, 0, 0, tzinfo=UTC)
    assert parse_time("Feb 14 08:00:00 h x", OBSERVED, shanghai) == datetime(2026, 2, 14, 0, 0, tzinfo=UTC)
    # an explicit zone wins over the default
    assert parse_time("2024-01-02T08:00:00+00:00 x", OBSERVED, shanghai) == datetime(2024, 1, 2, 8, tzinfo=UTC)


def test_dst_is_applied_for_the_date_of_the_line() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    winter = parse_time("2024-01-15 12:00:00 x", OBSERVED, berlin)
    summer = parse_time("2024-07-15 12:00:00 x", OBSERVED, berlin)
    assert winter == datetime(2024, 1, 15, 11, 0, tzinfo=UTC)
    assert summer == datetime(2024, 7, 15, 10, 0, tzinfo=UTC)


def test_result_is_utc_aware() -> None:
    stamp = parse_time("2024-01-02T03:04:05+05:00 x", OBSERVED, timezone(timedelta(hours=-3)))
    assert stamp is not None and stamp.tzinfo is UTC
