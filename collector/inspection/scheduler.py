"""Cron schedules of inspections, persisted in the state database, driven by an injectable clock.

APScheduler provides the parts that are hard to get right: cron triggers in each customer's time
zone (daylight saving included) and the persistent job store (``SQLAlchemyJobStore`` on the
collector's own engine, table ``inspection_jobs``), which keeps every job's next run time across
restarts. The collector's job scheduler (:mod:`collector.scheduler`) fires each schedule at its
cron times, and a catch-up job every minute; both call :meth:`InspectionScheduler.run_pending`,
which decides what is due from the injected clock, so a test can advance a fake clock through an
outage and see exactly which runs fire, without sleeping.

Missed runs: a job's persisted next run time stays in the past while the collector is down. At the
next :meth:`run_pending` every fire time between it and now is coalesced into one run (the latest
fire time is its ``scheduled_for``), unless ``misfire_grace`` is set and even that is too late —
then the run is reported as expired so the caller can record it as missed.

Several collectors on one PostgreSQL store share the job table; a due job is claimed with a
conditional update of its next run time, so exactly one collector runs it.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.cron import CronTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import Engine, update

log = logging.getLogger("patrol.inspection.scheduler")

JOB_TABLE = "inspection_jobs"
JOB_FUNC = "collector.inspection.scheduler:scheduled_inspection"

Clock = Callable[[], float]


def scheduled_inspection(customer: str, profile: str) -> None:
    """The callable the stored jobs name. Jobs are dispatched by :class:`InspectionScheduler`,
    which starts the inspection through the collector's inspection service, not by calling this."""
    raise RuntimeError(f"inspection jobs ({customer}/{profile}) run inside the collector's "
                       "InspectionScheduler, not through a plain APScheduler")


@dataclass(frozen=True)
class ScheduleSpec:
    """One configured schedule: a profile for a customer on a crontab, in the customer's zone."""

    customer: str
    profile: str
    cron: str
    timezone: str

    @property
    def job_id(self) -> str:
        # The cron is part of the id: a changed expression is a new schedule that starts counting
        # from now, rather than replaying fire times of the old one.
        return f"inspection:{self.customer}:{self.profile}:{self.cron}"

    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))


@dataclass(frozen=True)
class DueRun:
    job_id: str
    customer: str
    profile: str
    scheduled_for: datetime  # the latest fire time the run stands for
    coalesced: int  # how many fire times this run stands for (more than 1: runs were missed)
    expired: bool  # later than misfire_grace: record as missed, do not run


class _JobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """APScheduler's job store on the collector's engine, which it must not dispose of."""

    def shutdown(self) -> None:
        pass


class InspectionScheduler:
    # APScheduler's Job reads its scheduler's time zone when a next run time is set.
    timezone = UTC

    def __init__(self, engine: Engine, specs: Sequence[ScheduleSpec], clock: Clock,
                 on_due: Callable[[DueRun], None], misfire_grace_s: float | None = None) -> None:
        self.engine = engine
        self.specs = list(specs)
        self.clock = clock
        self.on_due = on_due
        self.misfire_grace_s = misfire_grace_s
        self.store = _JobStore(engine=engine, tablename=JOB_TABLE)
        self._started = False

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def start(self) -> None:
        """Create the job table if needed and bring the stored jobs in line with the configuration."""
        self.store.start(self, "inspections")
        self._started = True
        self.sync()

    def sync(self) -> None:
        """Add configured jobs, drop unconfigured ones, keep the next run time of unchanged ones.

        Keeping it is what makes a run missed during downtime still due at start.
        """
        now = self.now()
        grace = None if self.misfire_grace_s is None else max(1, int(self.misfire_grace_s))
        existing = {job.id: job for job in self.store.get_all_jobs()}
        for spec in self.specs:
            trigger = spec.trigger()
            old = existing.pop(spec.job_id, None)
            same = old is not None and repr(old.trigger) == repr(trigger)
            if same and old.misfire_grace_time == grace and old.next_run_time is not None:
                continue
            next_run = old.next_run_time if same and old.next_run_time is not None \
                else trigger.get_next_fire_time(None, now)
            job = Job(self, id=spec.job_id, func=JOB_FUNC, args=(),
                      kwargs={"customer": spec.customer, "profile": spec.profile},
                      name=f"{spec.profile} inspection of {spec.customer}", trigger=trigger, executor="default",
                      misfire_grace_time=grace, coalesce=True, max_instances=1, next_run_time=next_run)
            if old is None:
                self.store.add_job(job)
                log.info("event=schedule_added job=%s next=%s", job.id, next_run)
            else:
                self.store.update_job(job)
                log.info("event=schedule_updated job=%s next=%s", job.id, next_run)
        for job_id in existing:
            self.store.remove_job(job_id)
            log.info("event=schedule_removed job=%s", job_id)

    def run_pending(self) -> list[DueRun]:
        """Hand every due job to ``on_due`` once (missed fire times coalesced); returns them."""
        now = self.now()
        fired: list[DueRun] = []
        for job in self.store.get_due_jobs(now):
            fire_times: list[datetime] = []
            when = job.next_run_time
            while when is not None and when <= now:
                fire_times.append(when)
                when = job.trigger.get_next_fire_time(when, now)
            if not fire_times:
                continue
            if not self._claim(job, when):
                continue  # another collector on the same store took it
            latest = fire_times[-1]
            late = (now - latest).total_seconds()
            expired = job.misfire_grace_time is not None and late > job.misfire_grace_time
            due = DueRun(job.id, job.kwargs["customer"], job.kwargs["profile"], latest, len(fire_times), expired)
            log.info("event=schedule_due job=%s scheduled_for=%s coalesced=%d late_s=%.0f expired=%s next=%s",
                     job.id, latest.isoformat(), len(fire_times), late, expired, when)
            fired.append(due)
            try:
                self.on_due(due)
            except Exception:
                log.exception("event=schedule_dispatch_failed job=%s", job.id)
        return fired

    def _claim(self, job: Any, next_run: datetime | None) -> bool:
        """Move the job's next run time forward if nobody else did since we read it."""
        old = datetime_to_utc_timestamp(job.next_run_time)
        job._modify(next_run_time=next_run)
        table = self.store.jobs_t
        with self.engine.begin() as conn:
            result = conn.execute(update(table).where(table.c.id == job.id, table.c.next_run_time == old).values(
                next_run_time=datetime_to_utc_timestamp(next_run),
                job_state=pickle.dumps(job.__getstate__(), self.store.pickle_protocol)))
        return bool(result.rowcount == 1)

    def jobs(self) -> list[dict[str, Any]]:
        out = []
        for job in self.store.get_all_jobs():
            out.append({"id": job.id, "customer": job.kwargs["customer"], "profile": job.kwargs["profile"],
                        "trigger": str(job.trigger), "timezone": str(job.trigger.timezone),
                        "next_run": job.next_run_time.isoformat() if job.next_run_time else None,
                        "misfire_grace_s": job.misfire_grace_time})
        return sorted(out, key=lambda j: (j["customer"], j["profile"]))

    def shutdown(self) -> None:
        if self._started:
            self.store.shutdown()
            self._started = False
