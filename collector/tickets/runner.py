"""The ``tickets`` collector service: the SLA pass (job ``tickets-sla``, every ``evaluate_every``,
30 s by default) detects offline agents and evaluates SLA clocks, escalation, the plan rule,
auto-resolution and flapping of open tickets; the service also runs the notification outbox worker
(its own thread, woken by new messages) when notifications are configured.

The pass is synchronous database access and runs on a thread of the job scheduler; the event loop
(gRPC ingest, the API) never waits for it.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from collector.notify.outbox import Outbox
from collector.scheduler import Every, JobSpec
from collector.tickets.config import TicketsConfig
from collector.tickets.evaluate import EvaluationReport, SlaEvaluator
from collector.tickets.offline import OfflineDetector
from collector.tickets.service import IngestReport, TicketService

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.tickets")
_services: weakref.WeakKeyDictionary[CollectorApp, TicketService] = weakref.WeakKeyDictionary()


def build_service(app: CollectorApp) -> TicketService:
    from collector.notify.config import NotificationsConfig

    cfg: TicketsConfig = app.cfg.section("tickets")
    ncfg: NotificationsConfig = app.cfg.section("notifications")
    outbox = Outbox(ncfg, app.clock) if ncfg.active else None
    return TicketService(app.engine, cfg, {c.id: c for c in app.cfg.customers}, app.clock, outbox)


def service_for(app: CollectorApp) -> TicketService:
    """The app's ticket service: the running one, else one built once for this app."""
    for s in app.services:
        if isinstance(s, TicketsRunner):
            return s.service
    if app not in _services:
        _services[app] = build_service(app)
    return _services[app]


class TicketsRunner:
    name = "tickets"

    def __init__(self, app: CollectorApp) -> None:
        from collector.notify.service import create_service as notify_service

        cfg: TicketsConfig = app.cfg.section("tickets")
        self.app = app
        self.enabled = cfg.enabled
        self.notify = notify_service(app)
        self.every = cfg.evaluate_every
        self.service = service_for(app)
        self.evaluator = SlaEvaluator(self.service)
        self.offline = OfflineDetector(app.engine, cfg.offline, app.cfg.offline_after, app.clock)

    def tick(self) -> tuple[IngestReport, EvaluationReport]:
        """One pass; tests call it directly with an injected clock."""
        ingest = self.service.ingest(self.offline.signals())
        report = self.evaluator.evaluate()
        if ingest.opened or ingest.resolved or report.breaches or report.escalations:
            log.info("event=tickets_pass opened=%d resolved=%d warnings=%d breaches=%d escalations=%d plans=%d",
                     len(ingest.opened), len(ingest.resolved) + len(report.resolved), len(report.warnings),
                     len(report.breaches), len(report.escalations), len(report.plans))
        return ingest, report

    async def start(self) -> None:
        if self.notify is not None:
            await self.notify.start()

    async def stop(self) -> None:
        if self.notify is not None:
            await self.notify.stop()


def jobs(runner: TicketsRunner) -> list[JobSpec]:
    if not runner.enabled:
        return []
    # At start too: tickets of agents that went offline while the collector was down open at once.
    return [JobSpec("tickets-sla", "Tickets: offline agents, SLA clocks, escalation, auto-resolution",
                    runner.tick, Every(runner.every), start_delay=0)]


def create_service(app: CollectorApp) -> TicketsRunner | None:
    """The ticket loop and the notification worker; None when neither is configured."""
    from collector.notify.config import NotificationsConfig

    cfg: TicketsConfig = app.cfg.section("tickets")
    ncfg: NotificationsConfig = app.cfg.section("notifications")
    return TicketsRunner(app) if cfg.enabled or ncfg.active else None
