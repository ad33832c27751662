"""The collector's one scheduler: every periodic job of every feature runs here.

APScheduler (``BackgroundScheduler``, a small thread pool) owns the timing: interval and cron
triggers, coalescing of missed fire times into one run (``coalesce``), at most one run of a job at
a time (``max_instances``) and a misfire grace after which a late run is skipped. Every run goes
through :meth:`JobScheduler.run_job`, the one place that checks leadership (leader-only jobs run
only on the collector holding the group's lease), records the run in ``job_runs`` and updates the
job metrics. A job that raises is recorded as failed with its message; the scheduler carries on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from agent.configfile import ConfigError
from collector import metrics
from collector.scheduler import history
from collector.scheduler.config import JobsConfig
from collector.scheduler.history import JobRun, Outcome
from collector.scheduler.spec import JobSpec

log = logging.getLogger("patrol.jobs")

NOT_LEADER = "another collector of the group holds the lease"
STILL_RUNNING = "the previous run is still running"


class UnknownJob(KeyError):
    """No job has this id; the message lists the known ones."""


class JobScheduler:
    def __init__(self, engine: Engine, collector_id: str, config: JobsConfig, *,
                 leads: Callable[[], bool] = lambda: True, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.collector_id = collector_id
        self.config = config
        self.leads = leads
        self.clock = clock
        self._specs: dict[str, JobSpec] = {}
        self._busy: dict[str, threading.Lock] = {}
        self._pools: set[str] = set()
        self._schedules: dict[str, str] = {}  # job id -> the schedule in effect, as operators read it
        self._aps = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(config.executor_threads)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": max(1, int(config.misfire_grace))})

    # -- declaring -----------------------------------------------------------------------------

    def add(self, specs: Iterable[JobSpec]) -> None:
        """Add jobs, with the schedule the configuration gives them (``jobs.<id>``) if any."""
        configured = self.config.schedules()
        for spec in specs:
            if spec.id in self._specs:
                raise ValueError(f"job {spec.id!r} is declared twice")
            schedule = configured[spec.id].schedule() if spec.configurable and spec.id in configured \
                else spec.schedule
            self._specs[spec.id] = spec
            self._busy[spec.id] = threading.Lock()
            extra: dict[str, Any] = {}
            if spec.start_delay is not None:
                extra["next_run_time"] = datetime.now(UTC) + timedelta(seconds=spec.start_delay)
            if spec.pool is not None:
                extra["executor"] = self._pool(*spec.pool)
            self._aps.add_job(self._fire, schedule.trigger(UTC), args=(spec.id,), id=spec.id, name=spec.name,
                              **extra)
            self._schedules[spec.id] = schedule.describe()

    def _pool(self, name: str, threads: int) -> str:
        if name not in self._pools:
            self._aps.add_executor(ThreadPoolExecutor(threads), alias=name)
            self._pools.add(name)
        return name

    def check_config(self) -> None:
        """Every ``jobs.<id>`` of the configuration names a job whose schedule may be set."""
        problem = self.config.unknown_job(i for i, s in self._specs.items() if s.configurable)
        if problem is not None:
            raise ConfigError(problem)

    def schedule_of(self, job_id: str) -> str:
        self._spec(job_id)
        return self._schedules[job_id]

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        self._aps.start()
        log.info("event=scheduler_started jobs=%d", len(self._specs))

    def shutdown(self) -> None:
        """Stop firing jobs and wait for the runs in progress."""
        if self._aps.running:
            self._aps.shutdown(wait=True)

    def _fire(self, job_id: str) -> None:
        self.run_job(job_id)

    def run_job(self, job_id: str) -> JobRun:
        """Run a job now on this thread (the scheduler's and the run-now API's way in)."""
        spec = self._spec(job_id)
        started = self.clock()
        t0 = time.perf_counter()
        outcome: Outcome
        error: str | None = None
        busy = self._busy[job_id]
        if spec.leader_only and not self.leads():
            outcome, error = "skipped", NOT_LEADER
        elif not busy.acquire(blocking=False):
            outcome, error = "skipped", STILL_RUNNING
        else:
            try:
                spec.func()
                outcome = "ok"
            except Exception as exc:
                outcome, error = "failed", f"{type(exc).__name__}: {exc}"
                log.exception("event=job_failed job=%s", job_id)
            finally:
                busy.release()
        duration = time.perf_counter() - t0
        run = JobRun(job_id=job_id, collector_id=self.collector_id, started_ms=int(started * 1000),
                     finished_ms=int(self.clock() * 1000), duration_s=duration, outcome=outcome, error=error)
        metrics.job_runs.labels(job=job_id, outcome=outcome).inc()
        if outcome != "skipped":
            metrics.job_duration_seconds.labels(job=job_id).observe(duration)
        if outcome == "failed":
            metrics.job_failures.labels(job=job_id).inc()
        try:
            history.record(self.engine, run, self.config.keep_runs)
        except Exception:
            log.exception("event=job_run_not_recorded job=%s outcome=%s", job_id, outcome)
        if outcome != "skipped":
            log.info("event=job_run job=%s outcome=%s duration_s=%.3f", job_id, outcome, duration)
        return run

    # -- reading -------------------------------------------------------------------------------

    def job_ids(self) -> list[str]:
        return list(self._specs)

    def next_run(self, job_id: str) -> datetime | None:
        when = getattr(self._job(job_id), "next_run_time", None)
        return when if isinstance(when, datetime) else None

    def describe(self) -> list[dict[str, Any]]:
        """Every job with its schedule, next run and last run, for the API."""
        last = history.latest(self.engine)
        out = []
        for job_id, spec in self._specs.items():
            run = last.get(job_id)
            nxt = self.next_run(job_id)
            out.append({"id": job_id, "name": spec.name, "schedule": self.schedule_of(job_id),
                        "leader_only": spec.leader_only,
                        "next_run": nxt.isoformat() if nxt else None,
                        "last_run": None if run is None else run.to_dict()})
        return out

    def _spec(self, job_id: str) -> JobSpec:
        try:
            return self._specs[job_id]
        except KeyError:
            raise UnknownJob(f"no job {job_id!r}; the jobs are {', '.join(self._specs)}") from None

    def _job(self, job_id: str) -> Any:
        self._spec(job_id)
        return self._aps.get_job(job_id)
