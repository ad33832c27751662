"""Report generations started from the console, run in the background with their progress.

Generating a report takes seconds (store reads, then Jinja2 and WeasyPrint), so the page that asks
for one gets a job at once and polls it. A job runs :meth:`ReportService.generate` on a thread of its
own (the service renders one report at a time); its progress is the elapsed time against how long
the last report of the same kind took. Finished jobs are kept for an hour.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from collector.reporting.service import ReportService
from collector.reporting.service import Request as ReportRequest

log = logging.getLogger("patrol.console")

KEEP_S = 3600.0
# What a first report of a kind is expected to take before any has been timed.
FIRST_GUESS_S = 8.0


@dataclass
class ReportJob:
    id: str
    customer_id: str
    kind: str
    period: str
    language: str | None
    requested_by: str
    created: float
    state: str = "queued"  # queued | running | completed | failed
    started: float | None = None
    finished: float | None = None
    report_id: int | None = None
    error: str | None = None
    expected_s: float = FIRST_GUESS_S

    @property
    def done(self) -> bool:
        return self.state in ("completed", "failed")

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now) - self.started

    def percent(self, now: float) -> int:
        """0–100: finished jobs 100, running ones by elapsed against the expected time (at most 95)."""
        if self.done:
            return 100
        return min(95, int(100 * self.elapsed(now) / max(self.expected_s, 0.1)))

    def to_dict(self, now: float) -> dict[str, object]:
        return {"id": self.id, "customer": self.customer_id, "kind": self.kind, "period": self.period,
                "state": self.state, "elapsed_s": round(self.elapsed(now), 1), "percent": self.percent(now),
                "report_id": self.report_id, "error": self.error}


class ReportJobs:
    """The generations of one collector's report service."""

    def __init__(self, service: ReportService, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.clock = clock
        self._jobs: dict[str, ReportJob] = {}
        self._last_s: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self, customer_id: str, kind: str, period: str, language: str | None, requested_by: str,
              on_done: Callable[[ReportJob], None] | None = None) -> ReportJob:
        now = self.clock()
        job = ReportJob(secrets.token_urlsafe(12), customer_id, kind, period, language, requested_by, now,
                        expected_s=self._last_s.get(kind, FIRST_GUESS_S))
        with self._lock:
            for key in [k for k, j in self._jobs.items() if j.done and now - (j.finished or now) > KEEP_S]:
                del self._jobs[key]
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, on_done), name=f"report-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> ReportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: ReportJob, on_done: Callable[[ReportJob], None] | None) -> None:
        job.started, job.state = self.clock(), "running"
        req = ReportRequest(customer_id=job.customer_id, kind=job.kind, period=job.period,  # type: ignore[arg-type]
                            language=job.language, trigger="manual",  # type: ignore[arg-type]
                            requested_by=job.requested_by)
        try:
            record = self.service.generate(req)
        except Exception as exc:  # the page shows why; the log keeps the trace
            log.warning("event=console_report_failed job=%s customer=%s kind=%s period=%s error=%r", job.id,
                        job.customer_id, job.kind, job.period, str(exc))
            job.error, job.state = str(exc) or type(exc).__name__, "failed"
        else:
            job.report_id, job.state = int(record["id"]), "completed"
            self._last_s[job.kind] = self.clock() - job.started
        job.finished = self.clock()
        if on_done is not None:
            try:
                on_done(job)
            except Exception:
                log.exception("event=console_report_done_hook_failed job=%s", job.id)


_registry: weakref.WeakKeyDictionary[ReportService, ReportJobs] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def jobs_of(service: ReportService) -> ReportJobs:
    with _registry_lock:
        if service not in _registry:
            _registry[service] = ReportJobs(service)
        return _registry[service]
