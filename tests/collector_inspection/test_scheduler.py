"""Cron schedules in the customer's time zone, persisted across restarts, missed runs coalesced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from collector.inspection.scheduler import DueRun, InspectionScheduler, ScheduleSpec
from tests.collector_inspection.clock import FakeClock
from tests.collector_inspection.store import open_store

SHANGHAI = "Asia/Shanghai"
MONTHLY = ScheduleSpec("acme", "monthly", "0 2 1 * *", SHANGHAI)
DAILY = ScheduleSpec("acme", "daily", "0 6 * * *", SHANGHAI)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(tmp_path / "patrol.sqlite")
    yield engine
    engine.dispose()


def scheduler(engine: Engine, clock: FakeClock, fired: list[DueRun], specs: list[ScheduleSpec] | None = None,
              grace: float | None = None) -> InspectionScheduler:
    s = InspectionScheduler(engine, specs if specs is not None else [MONTHLY, DAILY], clock, fired.append, grace)
    s.start()
    return s


def by_profile(runs: list[DueRun]) -> dict[str, list[DueRun]]:
    out: dict[str, list[DueRun]] = {}
    for r in runs:
        out.setdefault(r.profile, []).append(r)
    return out


def test_a_monthly_run_missed_during_a_three_day_outage_runs_exactly_once(engine: Engine) -> None:
    clock = FakeClock("2026-05-30T12:00:00+08:00")
    fired: list[DueRun] = []
    first = scheduler(engine, clock, fired)
    assert first.run_pending() == []
    clock.set("2026-05-31T05:59:59+08:00")
    assert first.run_pending() == []
    clock.set("2026-05-31T06:00:00+08:00")
    [daily] = first.run_pending()
    assert (daily.profile, daily.scheduled_for, daily.coalesced) == ("daily", at("2026-05-31T06:00:00+08:00"), 1)

    # The collector stops at noon on May 31 and is back on June 3 at 10:00 — the monthly run of
    # June 1 and three daily runs fell into the outage.
    clock.set("2026-05-31T12:00:00+08:00")
    first.shutdown()
    clock.set("2026-06-03T10:00:00+08:00")
    fired.clear()
    restarted = scheduler(engine, clock, fired)
    due = by_profile(restarted.run_pending())
    [monthly] = due["monthly"]
    assert monthly.scheduled_for == at("2026-06-01T02:00:00+08:00")
    assert monthly.coalesced == 1 and not monthly.expired
    [daily] = due["daily"]
    assert daily.scheduled_for == at("2026-06-03T06:00:00+08:00") and daily.coalesced == 3
    assert len(fired) == 2

    # Nothing runs twice, and the schedule carries on from the present.
    assert restarted.run_pending() == []
    clock.advance(3600)
    assert restarted.run_pending() == []
    clock.set("2026-06-04T06:00:00+08:00")
    assert [d.profile for d in restarted.run_pending()] == ["daily"]
    clock.set("2026-07-01T02:00:00+08:00")
    due = by_profile(restarted.run_pending())
    assert [m.scheduled_for for m in due["monthly"]] == [at("2026-07-01T02:00:00+08:00")]
    assert due["daily"][0].coalesced == 26  # June 5 … June 30, the clock jumped
    jobs = {j["profile"]: j for j in restarted.jobs()}
    assert at(jobs["monthly"]["next_run"]) == at("2026-08-01T02:00:00+08:00")
    assert jobs["monthly"]["timezone"] == SHANGHAI


def test_schedules_fire_in_the_customers_time_zone(engine: Engine) -> None:
    clock = FakeClock("2026-05-31T17:00:00+00:00")  # 01:00 on June 1 in Shanghai
    fired: list[DueRun] = []
    berlin = ScheduleSpec("globex", "monthly", "0 2 1 * *", "Europe/Berlin")
    s = scheduler(engine, clock, fired, [MONTHLY, berlin])
    clock.set("2026-05-31T18:00:00+00:00")  # 02:00 in Shanghai, 20:00 in Berlin
    assert [d.customer for d in s.run_pending()] == ["acme"]
    clock.set("2026-06-01T00:00:00+00:00")  # 02:00 in Berlin (summer time)
    assert [d.customer for d in s.run_pending()] == ["globex"]


def test_a_run_later_than_the_misfire_grace_is_reported_expired(engine: Engine) -> None:
    clock = FakeClock("2026-05-30T12:00:00+08:00")
    fired: list[DueRun] = []
    scheduler(engine, clock, fired, grace=6 * 3600).shutdown()
    clock.set("2026-06-01T07:00:00+08:00")  # 5 h after the monthly fire time, 1 h after the daily
    s = scheduler(engine, clock, fired, grace=6 * 3600)
    due = by_profile(s.run_pending())
    assert not due["monthly"][0].expired and not due["daily"][0].expired
    s.shutdown()
    clock.set("2026-07-01T09:00:00+08:00")  # 7 h after the monthly fire time, 3 h after the daily
    due = by_profile(scheduler(engine, clock, fired, grace=6 * 3600).run_pending())
    assert due["monthly"][0].expired is True
    assert due["daily"][0].expired is False  # judged by the latest of the coalesced fire times


def test_changed_schedules_do_not_replay_the_past_and_removed_ones_go(engine: Engine) -> None:
    clock = FakeClock("2026-05-30T12:00:00+08:00")
    fired: list[DueRun] = []
    scheduler(engine, clock, fired).shutdown()
    clock.set("2026-06-03T10:00:00+08:00")
    # Restarted with the customer moved to Berlin and no daily schedule any more.
    moved = ScheduleSpec("acme", "monthly", "0 2 1 * *", "Europe/Berlin")
    s = scheduler(engine, clock, fired, [moved])
    assert s.run_pending() == []
    [job] = s.jobs()
    assert job["profile"] == "monthly" and job["timezone"] == "Europe/Berlin"
    assert at(job["next_run"]) == at("2026-07-01T02:00:00+02:00")


def test_two_collectors_on_one_store_run_a_due_job_once(engine: Engine) -> None:
    clock = FakeClock("2026-05-31T05:00:00+08:00")
    fired_a: list[DueRun] = []
    fired_b: list[DueRun] = []
    a = scheduler(engine, clock, fired_a, [DAILY])
    b = scheduler(engine, clock, fired_b, [DAILY])
    clock.set("2026-05-31T06:00:00+08:00")
    # b read the due job before a claimed it; its claim must then fail.
    [stale] = b.store.get_due_jobs(b.now())
    assert len(a.run_pending()) == 1
    assert b._claim(stale, DAILY.trigger().get_next_fire_time(stale.next_run_time, b.now())) is False
    assert b.run_pending() == []
    assert len(fired_a) == 1 and fired_b == []
