"""The ``jobs:`` section of ``collector.yaml``: how every periodic job is scheduled.

```yaml
jobs:
  misfire_grace: 5m      # a run later than this after its time is skipped, not run late
  keep_runs: 200         # run history kept per job
  predictions: {every: 30m}
  reports: {cron: "*/10 * * * *"}
```

Every other key is a job id (see ``patrol jobs``) with either ``every`` or ``cron``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from agent.configfile import parse_duration
from collector.scheduler.spec import Cron, Every, Schedule

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


class JobSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every: Seconds | None = Field(None, description="run at this interval, e.g. 30m")
    cron: str | None = Field(None, description="run on this crontab (minute hour day month weekday), in UTC")
    timezone: str | None = Field(None, description="time zone of cron, default UTC")

    @field_validator("cron")
    @classmethod
    def _crontab(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                CronTrigger.from_crontab(v)
            except ValueError as e:
                raise ValueError(f"not a crontab expression ({e}); expected 5 fields such as '0 3 * * *'") from None
        return v

    @model_validator(mode="after")
    def _one(self) -> JobSchedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("set exactly one of every or cron")
        if self.timezone is not None and self.cron is None:
            raise ValueError("timezone applies to cron only")
        return self

    def schedule(self) -> Schedule:
        if self.every is not None:
            return Every(self.every)
        assert self.cron is not None
        return Cron(self.cron, self.timezone)


class JobsConfig(BaseModel):
    # Extra keys are job ids, each validated as a JobSchedule.
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, JobSchedule] = Field(init=False)  # type: ignore[assignment]

    misfire_grace: Seconds = Field(300.0, description="a run this much later than its time is skipped")
    keep_runs: int = Field(200, ge=1, description="runs kept in the history of each job")
    executor_threads: int = Field(4, ge=1, description="jobs that may run at the same time")

    def schedules(self) -> dict[str, JobSchedule]:
        return dict(self.__pydantic_extra__ or {})

    def unknown_job(self, known: Iterable[str]) -> str | None:
        """What is wrong with the first ``jobs.<id>`` that names none of the ``known`` job ids, if any."""
        ids = sorted(set(known))
        for job_id in self.schedules():
            if job_id not in ids:
                return f"jobs.{job_id}: no job with this id can be scheduled here; the jobs are {', '.join(ids)}"
        return None

    def interval_of(self, job_id: str, default: float) -> float:
        """The period of a job in seconds: its interval, or the gap between its next two cron times."""
        configured = self.schedules().get(job_id)
        if configured is None:
            return default
        if configured.every is not None:
            return configured.every
        trigger = configured.schedule().trigger(UTC)
        first = trigger.get_next_fire_time(None, datetime.now(UTC))
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        return (second - first).total_seconds() if first and second else default
