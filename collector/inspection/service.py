"""The inspection service inside the collector: starts runs, executes them off the event loop,
and starts the scheduled ones when the job scheduler fires their schedules.

Runs execute in a small thread pool (``inspections.workers``, default 1), never on the event loop:
the gRPC streams and the HTTP API stay responsive, and ingest keeps its own writer thread. A run
reads through :class:`StoreData` in bulk and writes its results in short transactions. Progress is
kept in memory for the API and written to the run row every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent.configfile import ConfigError
from collector.inspection import runs
from collector.inspection.config import InspectionsConfig, section, validate_customers
from collector.inspection.data import StoreData, UnknownHosts, load_hosts
from collector.inspection.runs import RunRequest
from collector.inspection.scheduler import DueRun, InspectionScheduler, ScheduleSpec
from collector.inspection.windows import WindowError, inspection_window
from collector.scheduler import Cron, Every, JobSpec
from collector.tickets.handoff import run_completed
from inspections import InspectionConfigError, InspectionProgress, Profile, load_profile, run_inspection

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.inspection")

PROGRESS_WRITE_INTERVAL = 2.0


class InspectionRequestError(ValueError):
    """A run cannot be started as asked (unknown customer, profile or host); the message says why."""


class _Cancelled(Exception):
    pass


class InspectionService:
    name = "inspections"

    def __init__(self, app: CollectorApp, config: InspectionsConfig) -> None:
        self.app = app
        self.config = config
        self.engine = app.engine
        self.clock = app.clock
        self.executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="patrol-inspect")
        self.scheduler = InspectionScheduler(app.engine, self._specs(), app.clock, self._on_due,
                                             config.misfire_grace)
        self._progress: dict[int, tuple[int, int]] = {}
        self._futures: dict[int, Future[None]] = {}
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def _specs(self) -> list[ScheduleSpec]:
        return [ScheduleSpec(c.id, s.profile, s.cron, c.timezone)
                for c in self.app.cfg.customers for s in self.config.schedules_for(c.id)]

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.start_sync)

    def start_sync(self) -> None:
        """Interrupt runs this collector left behind and bring the stored schedules in line with the config."""
        abandoned = runs.interrupt_abandoned(self.engine, self.app.collector_id, self._now_ms())
        if abandoned:
            log.warning("event=runs_interrupted runs=%s", ",".join(map(str, abandoned)))
        self.scheduler.start()
        cluster = getattr(self.app, "cluster", None)
        if cluster is not None:
            cluster.on_leader_beat.append(self.take_over_runs)

    def take_over_runs(self, dead: list[str]) -> list[int]:
        """On the group's leader: fail the runs of dead collectors and run their scheduled ones again."""
        started: list[int] = []
        for member in dead:
            for request in runs.take_over_runs(self.engine, member, self._now_ms()):
                try:
                    started.append(self.start_run(request))
                except InspectionRequestError as exc:
                    self._record_failure(request, "failed", str(exc))
                log.warning("event=run_taken_over from=%s customer=%s profile=%s", member, request.customer_id,
                            request.profile_ref)
        return started

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop_sync)

    def stop_sync(self) -> None:
        self._stopping.set()
        self.executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            never_started = sorted(self._queued)
            self._queued.clear()
        for run_id in never_started:
            runs.mark_finished(self.engine, run_id, "cancelled", self._now_ms(),
                               "cancelled: the collector stopped before this run started")
        self.scheduler.shutdown()

    # -- starting runs -------------------------------------------------------------------------

    def run_pending(self) -> list[DueRun]:
        return self.scheduler.run_pending()

    def _on_due(self, due: DueRun) -> None:
        request = RunRequest(customer_id=due.customer, profile_ref=due.profile, trigger="schedule",
                             requested_by=due.job_id, schedule_id=due.job_id, scheduled_for=due.scheduled_for,
                             coalesced=due.coalesced)
        if due.expired:
            grace = self.config.misfire_grace
            self._record_failure(request, "missed", f"missed: due at {due.scheduled_for.isoformat()} while the "
                                 f"collector was down, more than misfire_grace ({grace:.0f} s) ago")
            return
        try:
            self.start_run(request)
        except InspectionRequestError as exc:
            self._record_failure(request, "failed", str(exc))

    def _record_failure(self, request: RunRequest, status: str, error: str) -> int:
        profile_id, name = request.profile_ref, None
        with contextlib.suppress(InspectionConfigError):
            profile = load_profile(request.profile_ref)
            profile_id, name = profile.id, profile.name
        run_id = runs.create_run(self.engine, request, profile_id, name, [], self.app.collector_id,
                                 self._now_ms(), status=status, error=error, checklist=[])
        log.warning("event=inspection_not_run run=%d customer=%s status=%s error=%s", run_id,
                    request.customer_id, status, error)
        return run_id

    def default_profile(self, customer_id: str) -> str:
        return self.config.default_profile(customer_id)

    def _window(self, request: RunRequest, profile: Profile, now: datetime) -> tuple[datetime, datetime]:
        customer = self.app.cfg.customer(request.customer_id)
        try:
            return inspection_window(profile, now, customer.timezone if customer is not None else "UTC",
                                     request.period, scheduled=request.trigger == "schedule")
        except WindowError as exc:
            raise InspectionRequestError(str(exc)) from None

    def start_run(self, request: RunRequest) -> int:
        """Validate, store the run as queued and submit it; returns the run id.

        Raises :class:`InspectionRequestError` for an unknown customer, profile or host, or a
        customer without hosts.
        """
        if self._stopping.is_set():
            raise InspectionRequestError("the collector is stopping; start the inspection again once it is up")
        try:
            profile = load_profile(request.profile_ref)
        except InspectionConfigError as exc:
            raise InspectionRequestError(str(exc)) from None
        try:
            hosts = load_hosts(self.engine, request.customer_id, request.hosts)
        except UnknownHosts as exc:
            raise InspectionRequestError(str(exc)) from None
        self._window(request, profile, datetime.fromtimestamp(self.clock(), tz=UTC))
        if not hosts:
            known = self.app.cfg.customer(request.customer_id) is not None
            raise InspectionRequestError(
                f"customer {request.customer_id!r} has no hosts in the store yet: enrol agents first"
                if known else f"unknown customer {request.customer_id!r}: see 'patrol hosts' or customers: in "
                "collector.yaml")
        run_id = runs.create_run(self.engine, request, profile.id, profile.name, profile.check_ids(),
                                 self.app.collector_id, self._now_ms())
        with self._lock:
            self._progress[run_id] = (0, len(hosts))
            self._queued.add(run_id)
            future = self.executor.submit(self._execute, run_id, request, profile)
            self._futures[run_id] = future
        future.add_done_callback(lambda _: self._forget(run_id))
        log.info("event=inspection_queued run=%d customer=%s profile=%s trigger=%s hosts=%d", run_id,
                 request.customer_id, profile.id, request.trigger, len(hosts))
        return run_id

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._futures.pop(run_id, None)
            self._progress.pop(run_id, None)

    # -- executing -----------------------------------------------------------------------------

    def _execute(self, run_id: int, request: RunRequest, profile: Profile) -> None:
        with self._lock:
            self._queued.discard(run_id)
        t0 = time.perf_counter()
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        try:
            hosts = load_hosts(self.engine, request.customer_id, request.hosts)
            if not hosts:
                raise InspectionRequestError(f"customer {request.customer_id!r} has no hosts any more")
            overrides = self.config.overrides_for(request.customer_id)
            since, until = self._window(request, profile, now)
            before = runs.previous_run(self.engine, request.customer_id, profile.id, run_id, until)
            previous = before.until if before is not None else None
            runs.mark_started(self.engine, run_id, int(now.timestamp() * 1000), since, until, previous, len(hosts))
            data = StoreData(self.engine, self.app.ingestor.retention_s, self.clock)
            # A period that has ended is judged as of its end: staleness and "now" values relative to it.
            result = run_inspection(data, hosts, profile, window=(since, until), overrides=overrides,
                                    now=min(now, until), previous_run_at=previous,
                                    progress=self._progress_callback(run_id),
                                    previous=before.statuses if before is not None else None)
            runs.save_result(self.engine, run_id, result, self._now_ms(),
                             on_stored=lambda: run_completed(self.app, run_id, request.customer_id, result))
        except _Cancelled:
            runs.mark_finished(self.engine, run_id, "cancelled", self._now_ms(),
                               "cancelled: the collector stopped during the run")
            log.warning("event=inspection_cancelled run=%d", run_id)
            return
        except (InspectionConfigError, InspectionRequestError, UnknownHosts) as exc:
            runs.mark_finished(self.engine, run_id, "failed", self._now_ms(), str(exc))
            log.error("event=inspection_failed run=%d error=%s", run_id, exc)
            return
        except Exception as exc:
            log.exception("event=inspection_failed run=%d", run_id)
            runs.mark_finished(self.engine, run_id, "failed", self._now_ms(),
                               f"{type(exc).__name__}: {exc}; see the collector log")
            return
        counts = result.counts()
        log.info("event=inspection_done run=%d customer=%s profile=%s hosts=%d seconds=%.2f queries=%d "
                 "critical=%d warning=%d unknown=%d score=%s", run_id, request.customer_id, profile.id,
                 len(hosts), time.perf_counter() - t0, data.queries, counts["critical"], counts["warning"],
                 counts["unknown"], result.customers[0].score if result.customers else None)

    def _progress_callback(self, run_id: int) -> Any:
        last_write = time.monotonic()

        def progress(p: InspectionProgress) -> None:
            nonlocal last_write
            if self._stopping.is_set():
                raise _Cancelled()
            with self._lock:
                self._progress[run_id] = (p.done, p.total)
            if time.monotonic() - last_write >= PROGRESS_WRITE_INTERVAL:
                last_write = time.monotonic()
                runs.update_progress(self.engine, run_id, p.done)

        return progress

    # -- queries -------------------------------------------------------------------------------

    def progress(self, run_id: int) -> tuple[int, int] | None:
        """``(done, total)`` of a run this collector is executing, else None."""
        with self._lock:
            return self._progress.get(run_id)

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        """Block until the run (started by this collector) has finished; for tests and the demo."""
        with self._lock:
            future = self._futures.get(run_id)
        if future is not None:
            with contextlib.suppress(Exception):
                future.result(timeout)

    def wait_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._futures.values())
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(pending)} inspection run(s) still running after {timeout:.0f} s")
            with contextlib.suppress(Exception):
                pending[0].result(remaining)


def create_service(app: CollectorApp) -> InspectionService | None:
    """The service factory (declared in ``collector/inspection/feature.py``); None when inspections are disabled."""
    config = section(app.cfg)
    if not config.enabled:
        return None
    try:
        validate_customers(config, {c.id for c in app.cfg.customers})
    except ValueError as exc:
        raise ConfigError(f"invalid inspections section: {exc}") from None
    return InspectionService(app, config)


CATCH_UP_EVERY_S = 60.0


def jobs(service: InspectionService) -> list[JobSpec]:
    """One job per configured schedule, firing at its cron times in the customer's time zone, and a
    catch-up job, at start and every minute, which starts runs that fell due while this collector
    was down or was not the group's leader. Both start whatever is due through the persisted
    schedules, which hand each fire time out once (see :mod:`collector.inspection.scheduler`)."""
    specs = [JobSpec(spec.job_id, f"Inspection: {spec.profile} of {spec.customer}", service.run_pending,
                     Cron(spec.cron, spec.timezone), configurable=False)
             for spec in service.scheduler.specs]
    catch_up = JobSpec("inspections-catch-up", "Inspections: start scheduled runs that are overdue",
                       service.run_pending, Every(CATCH_UP_EVERY_S), start_delay=0)
    return [*specs, catch_up] if specs else []


def service_of(app: Any) -> InspectionService | None:
    """The running inspection service of a collector app, if any."""
    from collector.services import find_service

    return find_service(app, InspectionService)
