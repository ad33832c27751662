"""Writing and reading the run history of jobs (table ``job_runs``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, insert, select

from collector.scheduler.tables import job_runs

Outcome = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class JobRun:
    job_id: str
    collector_id: str
    started_ms: int
    finished_ms: int
    duration_s: float
    outcome: Outcome
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record(engine: Engine, run: JobRun, keep: int) -> None:
    """Store one run and drop the job's runs older than the newest ``keep``."""
    with engine.begin() as conn:
        conn.execute(insert(job_runs).values(**asdict(run)))
        cutoff = conn.execute(select(job_runs.c.id).where(job_runs.c.job_id == run.job_id)
                              .order_by(job_runs.c.id.desc()).offset(keep).limit(1)).scalar()
        if cutoff is not None:
            conn.execute(delete(job_runs).where(job_runs.c.job_id == run.job_id, job_runs.c.id <= cutoff))


def latest(engine: Engine) -> dict[str, JobRun]:
    """The newest run of every job on any collector of the store.

    A run that did something wins over newer skips: the members of a group that do not hold the
    lease skip every leader-only run, and the operator wants to see the run that happened.
    """
    done = select(func.max(job_runs.c.id)).where(job_runs.c.outcome != "skipped").group_by(job_runs.c.job_id)
    any_run = select(func.max(job_runs.c.id)).group_by(job_runs.c.job_id)
    with engine.connect() as conn:
        rows = conn.execute(select(job_runs).where(job_runs.c.id.in_(done.union(any_run).scalar_subquery()))
                            .order_by(job_runs.c.id)).mappings().all()
    out: dict[str, JobRun] = {}
    for r in rows:
        run = _run(r)
        previous = out.get(run.job_id)
        if previous is None or previous.outcome == "skipped":
            out[run.job_id] = run
    return out


def runs_of(engine: Engine, job_id: str, limit: int = 50) -> list[JobRun]:
    """The newest runs of one job, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(job_runs).where(job_runs.c.job_id == job_id)
                            .order_by(job_runs.c.id.desc()).limit(limit)).mappings().all()
    return [_run(r) for r in rows]


def _run(row: Any) -> JobRun:
    return JobRun(job_id=row["job_id"], collector_id=row["collector_id"], started_ms=row["started_ms"],
                  finished_ms=row["finished_ms"], duration_s=row["duration_s"], outcome=row["outcome"],
                  error=row["error"])
