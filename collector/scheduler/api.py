"""``/api/v1/jobs``: the periodic jobs of this collector, their last and next runs; run one now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from collector.api_deps import Admin, Viewer
from collector.scheduler import history
from collector.scheduler.runner import JobScheduler, UnknownJob

router = APIRouter()


def _scheduler(request: Request) -> JobScheduler:
    scheduler: JobScheduler | None = getattr(request.app.state.collector, "scheduler", None)
    if scheduler is None:
        raise HTTPException(503, "the job scheduler is not running on this collector")
    return scheduler


@router.get("/api/v1/jobs")
def list_jobs(request: Request, _: Viewer) -> dict[str, Any]:
    scheduler = _scheduler(request)
    return {"collector_id": scheduler.collector_id, "leader": scheduler.leads(), "jobs": scheduler.describe()}


@router.get("/api/v1/jobs/{job_id}/runs")
def job_runs(job_id: str, request: Request, _: Viewer, limit: int = 50) -> list[dict[str, Any]]:
    scheduler = _scheduler(request)
    if job_id not in scheduler.job_ids():
        raise HTTPException(404, f"no job {job_id!r}: see 'patrol jobs' for the jobs")
    return [r.to_dict() for r in history.runs_of(scheduler.engine, job_id, max(1, min(limit, 1000)))]


@router.post("/api/v1/jobs/{job_id}/run")
def run_now(job_id: str, request: Request, _: Admin) -> dict[str, Any]:
    """Run a job now, on this collector, and return the recorded run."""
    scheduler = _scheduler(request)
    try:
        return scheduler.run_job(job_id).to_dict()
    except UnknownJob as e:
        raise HTTPException(404, f"{e.args[0]}") from None
