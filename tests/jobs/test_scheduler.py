"""The job scheduler: runs recorded with outcome and message, leadership, bounded history, metrics."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from sqlalchemy import Engine, func, select

from collector import metrics
from collector.scheduler import Every, JobSpec
from collector.scheduler.config import JobsConfig
from collector.scheduler.history import latest, runs_of
from collector.scheduler.runner import NOT_LEADER, STILL_RUNNING, JobScheduler, UnknownJob
from collector.scheduler.tables import job_runs
from collector.store.engine import open_engine
from tests.integration.harness import wait_for

NOW = 1_760_000_000.0


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_engine(f"sqlite:///{tmp_path / 'patrol.sqlite'}")


def unique(name: str) -> str:
    # The metrics registry is process-wide; each test's job ids are its own.
    return f"{name}-{uuid.uuid4().hex[:8]}"


def scheduler(engine: Engine, leads: bool = True, **config: object) -> JobScheduler:
    return JobScheduler(engine, "col-a", JobsConfig.model_validate(config), leads=lambda: leads, clock=lambda: NOW)


def broken() -> None:
    raise RuntimeError("disk /srv is not mounted")


def test_a_failing_job_is_recorded_with_its_message_and_the_others_keep_running(engine: Engine) -> None:
    bad, good = unique("bad"), unique("good")
    calls: list[str] = []
    jobs = scheduler(engine)
    jobs.add([JobSpec(bad, "Always fails", broken, Every(3600), start_delay=0),
              JobSpec(good, "Counts", lambda: calls.append("run"), Every(3600), start_delay=0)])
    jobs.start()
    try:
        # Both fire once at start on the scheduler's own threads; the failure stops nothing.
        wait_for(lambda: {bad, good} <= set(latest(engine)), 30, "both first runs recorded")
        again = jobs.run_job(bad)
        after = jobs.run_job(good)
    finally:
        jobs.shutdown()
    first = latest(engine)
    assert again.outcome == "failed" and again.error == "RuntimeError: disk /srv is not mounted"
    assert after.outcome == "ok" and after.error is None and calls == ["run", "run"]
    assert [r.outcome for r in runs_of(engine, bad)] == ["failed", "failed"]
    assert first[good].collector_id == "col-a" and first[good].started_ms == int(NOW * 1000)
    text = generate_latest(metrics.REGISTRY).decode()
    assert f'patrol_job_failures_total{{job="{bad}"}} 2.0' in text
    assert f'patrol_job_runs_total{{job="{good}",outcome="ok"}} 2.0' in text
    assert f'patrol_job_duration_seconds_count{{job="{good}"}} 2.0' in text


def test_a_member_that_does_not_lead_skips_leader_only_jobs(engine: Engine) -> None:
    pass_id, retention_id = unique("sla"), unique("retention")
    ran: list[str] = []
    jobs = scheduler(engine, leads=False)
    jobs.add([JobSpec(pass_id, "SLA pass", lambda: ran.append(pass_id), Every(60)),
              JobSpec(retention_id, "Retention", lambda: ran.append(retention_id), Every(60), leader_only=False)])
    skipped = jobs.run_job(pass_id)
    done = jobs.run_job(retention_id)
    assert skipped.outcome == "skipped" and skipped.error == NOT_LEADER
    assert done.outcome == "ok" and ran == [retention_id]
    assert f'patrol_job_runs_total{{job="{pass_id}",outcome="skipped"}} 1.0' in \
        generate_latest(metrics.REGISTRY).decode()


def test_history_is_bounded_per_job(engine: Engine) -> None:
    a, b = unique("a"), unique("b")
    jobs = scheduler(engine, keep_runs=3)
    jobs.add([JobSpec(a, "A", lambda: None, Every(60)), JobSpec(b, "B", broken, Every(60))])
    for _ in range(5):
        jobs.run_job(a)
    jobs.run_job(b)
    with engine.connect() as conn:
        counts = dict(conn.execute(select(job_runs.c.job_id, func.count()).group_by(job_runs.c.job_id)).all())
    assert counts == {a: 3, b: 1}


def test_the_last_run_shown_is_the_one_that_did_something(engine: Engine) -> None:
    job = unique("reports")
    leader, member = scheduler(engine), scheduler(engine, leads=False)
    for s in (leader, member):
        s.add([JobSpec(job, "Reports", lambda: None, Every(60))])
    leader.run_job(job)
    member.run_job(job)  # newer, but only a skip
    assert latest(engine)[job].outcome == "ok"


def test_configured_schedules_replace_the_defaults(engine: Engine) -> None:
    jobs = scheduler(engine, **{"predictions": {"every": "30m"}, "reports": {"cron": "5 3 * * *"}})
    jobs.add([JobSpec("predictions", "Predictions", lambda: None, Every(3600)),
              JobSpec("reports", "Reports", lambda: None, Every(60)),
              JobSpec("retention", "Retention", lambda: None, Every(600))])
    jobs.check_config()
    assert [jobs.schedule_of(i) for i in ("predictions", "reports", "retention")] == \
        ["every 30m", "cron 5 3 * * *", "every 10m"]
    jobs.start()
    try:
        nxt = jobs.next_run("reports")
        assert nxt is not None and (nxt.hour, nxt.minute) == (3, 5)
        assert all(j["next_run"] for j in jobs.describe())
    finally:
        jobs.shutdown()


def test_unknown_jobs_are_named(engine: Engine) -> None:
    from agent.configfile import ConfigError

    jobs = scheduler(engine, **{"predictons": {"every": "30m"}})
    jobs.add([JobSpec("predictions", "Predictions", lambda: None, Every(3600)),
              JobSpec("inspection:acme:daily", "Inspection", lambda: None, Every(60), configurable=False)])
    with pytest.raises(ConfigError, match=r"jobs\.predictons: no job with this id.*the jobs are predictions$"):
        jobs.check_config()
    with pytest.raises(UnknownJob, match="no job 'nope'"):
        jobs.run_job("nope")


def test_a_job_never_runs_twice_at_once(engine: Engine) -> None:
    import threading

    job = unique("slow")
    entered, release = threading.Event(), threading.Event()

    def slow() -> None:
        entered.set()
        release.wait(30)

    jobs = scheduler(engine)
    jobs.add([JobSpec(job, "Slow", slow, Every(3600))])
    first = threading.Thread(target=jobs.run_job, args=(job,))
    first.start()
    try:
        assert entered.wait(30)
        second = jobs.run_job(job)  # e.g. "run now" while the scheduled run is still going
    finally:
        release.set()
        first.join(30)
    assert (second.outcome, second.error) == ("skipped", STILL_RUNNING)
    assert [r.outcome for r in runs_of(engine, job)] == ["ok", "skipped"]
