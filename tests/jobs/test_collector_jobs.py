"""A real collector's jobs: ``patrol jobs`` after start, run-now through the API, leadership in a group."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from collector.app import CollectorApp
from collector.core_jobs import schedulable_job_ids
from collector.scheduler.runner import NOT_LEADER
from tests.collector_core.inprocess import collector_config
from tests.integration.harness import TOKEN, CollectorProcess, patrol_cli, wait_for

pytestmark = pytest.mark.integration

SCHEDULES = [{"profile": "daily", "cron": "0 6 * * *"}]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("jobs"), inspections={"schedules": SCHEDULES},
                         jobs={"predictions": {"every": "45m"}})
    c.start()
    yield c
    c.kill(signal.SIGTERM)


def test_patrol_jobs_lists_every_job_with_its_next_run(collector: CollectorProcess) -> None:
    out = patrol_cli(collector, "jobs", "--format", "json")
    assert out.returncode == 0, out.stderr
    jobs = {j["id"]: j for j in json.loads(out.stdout)}
    expected = {"retention", "retention-of-gone-members", "compaction", "tickets-sla", "predictions", "reports",
                "inspections-catch-up", "inspection:acme:daily:0 6 * * *", "inspection:globex:daily:0 6 * * *"}
    assert expected <= set(jobs), sorted(jobs)
    # What check-config knows without starting anything is what a running collector schedules
    # (less the export's job: no export is configured here); per-host and per-customer jobs have ':'.
    fixed = {i for i in jobs if ":" not in i}
    assert fixed <= set(schedulable_job_ids()) and set(schedulable_job_ids()) - fixed == {"export-adopt"}
    assert all(j["next_run"] for j in jobs.values()), jobs
    assert jobs["predictions"]["schedule"] == "every 45m"
    assert jobs["inspection:acme:daily:0 6 * * *"]["schedule"] == "cron 0 6 * * * (Asia/Shanghai)"
    assert jobs["retention"]["leader_only"] is False and jobs["tickets-sla"]["leader_only"] is True
    assert jobs["compaction"]["leader_only"] is True and jobs["compaction"]["schedule"] == "every 1h"
    # The jobs that fire at start (catching up on downtime) have run once.
    def started_up() -> bool:
        rows = {r["id"]: r for r in json.loads(patrol_cli(collector, "jobs", "--json").stdout)}
        return all(rows[i]["last_outcome"] == "ok" for i in ("tickets-sla", "reports", "inspections-catch-up"))

    wait_for(started_up, 60, "the start-up runs of tickets-sla, reports and inspections-catch-up")

    table = patrol_cli(collector, "jobs")
    assert table.returncode == 0, table.stderr
    assert "Retention: delete data past its retention" in table.stdout and "every 10m" in table.stdout
    assert "Inspection: daily of acme" in table.stdout


def test_run_now_records_the_run_and_metrics_count_it(collector: CollectorProcess) -> None:
    out = patrol_cli(collector, "jobs", "--run", "retention")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("retention: ok in ")
    out = patrol_cli(collector, "jobs", "--run", "retention", "--json")
    run = json.loads(out.stdout)[0]
    assert run["job_id"] == "retention" and run["outcome"] == "ok"
    listed = {j["id"]: j for j in collector.get("/api/v1/jobs")["jobs"]}
    assert listed["retention"]["last_run"]["outcome"] == "ok"
    runs = collector.get("/api/v1/jobs/retention/runs")
    assert runs[0]["started_ms"] == run["started_ms"]
    text = httpx.get(f"{collector.api}/metrics", timeout=30).text
    assert 'patrol_job_runs_total{job="retention",outcome="ok"}' in text
    assert 'patrol_job_duration_seconds_count{job="retention"}' in text


def test_the_compaction_job_packs_completed_days_when_run(collector: CollectorProcess) -> None:
    out = patrol_cli(collector, "jobs", "--run", "compaction", "--json")
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)[0]
    assert run["job_id"] == "compaction" and run["outcome"] == "ok", run


def test_unknown_jobs_are_404_with_a_hint(collector: CollectorProcess) -> None:
    r = httpx.post(f"{collector.api}/api/v1/jobs/nope/run", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 404 and "no job 'nope'" in r.json()["detail"]
    out = patrol_cli(collector, "jobs", "--run", "nope")
    assert out.returncode == 1 and "no job 'nope'" in out.stderr


def test_an_unknown_job_in_the_configuration_stops_the_start(tmp_path: Path) -> None:
    c = CollectorProcess(tmp_path / "c", jobs={"predictons": {"every": "1h"}}).start(wait=False)
    proc = c.proc
    assert proc is not None
    assert proc.wait(timeout=60) != 0
    assert "jobs.predictons: no job with this id" in c.log_path.read_text()


def test_only_the_lease_holder_runs_leader_only_jobs(postgres_url: str, tmp_path: Path) -> None:
    async def run() -> None:
        apps = [CollectorApp(collector_config(postgres_url, tmp_path / name, collector_id=name))
                for name in ("col-a", "col-b")]
        for app in apps:
            await app.start(api=False)
        leader, member = apps
        try:
            assert leader.cluster.is_leader and not member.cluster.is_leader
            # The SLA pass fires at start on both: the member records a skip, the leader a run.
            await asyncio.to_thread(wait_for, lambda: {r.collector_id: r.outcome for r in
                                                       _runs(leader, "tickets-sla")} == {"col-a": "ok",
                                                                                         "col-b": "skipped"},
                                    60, "the start-up SLA pass on both collectors")
            skipped = await asyncio.to_thread(member.scheduler.run_job, "predictions")
            ran = await asyncio.to_thread(leader.scheduler.run_job, "predictions")
            own = await asyncio.to_thread(member.scheduler.run_job, "retention")
            assert (skipped.outcome, skipped.error) == ("skipped", NOT_LEADER)
            assert ran.outcome == "ok" and own.outcome == "ok"
            # Asked on the member, the group's last SLA pass is the leader's run, not the member's skip.
            listed = {j["id"]: j for j in await asyncio.to_thread(member.scheduler.describe)}
            assert listed["tickets-sla"]["last_run"]["collector_id"] == "col-a"
            assert listed["tickets-sla"]["last_run"]["outcome"] == "ok"
        finally:
            for app in reversed(apps):
                await app.stop(grace=1.0)

    asyncio.run(run())


def _runs(app: CollectorApp, job_id: str) -> list:  # type: ignore[type-arg]
    from collector.scheduler.history import runs_of

    return runs_of(app.engine, job_id)
