"""Tickets (工单) with SLA clocks, noise control and notifications (service-requirements §3).

Entry points for the rest of the collector (synchronous database work: from async code call them
with ``await asyncio.to_thread(process_findings, app, result)``)::

    from collector.tickets import process_findings, process_forecasts, process_anomalies

    process_findings(app, FindingBatch(run_id, customer_id, evaluated_at, findings, hostnames))
    process_forecasts(app, forecasts)          # inspections.signals.CapacityForecast, stored runs
    process_anomalies(app, anomalies)          # inspections.signals.Anomaly, stored runs

Forecasts and anomalies come from the predictions pass (:mod:`collector.predictions.service`), which stores
them as forecast runs first, so a ticket's forecast carries the ``run_id`` it was raised from.

Each returns an :class:`IngestReport` (tickets opened, reopened, repeated, cleared, resolved,
suppressed by maintenance). See docs/tickets.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from collector.tickets.service import IngestReport, ManualTicket, TicketService
from collector.tickets.sources import FindingBatch
from inspections.signals import Anomaly, CapacityForecast

if TYPE_CHECKING:
    from collector.app import CollectorApp

__all__ = ["FindingBatch", "IngestReport", "ManualTicket", "TicketService", "process_anomalies", "process_findings",
           "process_forecasts", "ticket_service"]


def ticket_service(app: CollectorApp) -> TicketService:
    from collector.tickets.runner import service_for

    return service_for(app)


def process_findings(app: CollectorApp, batch: FindingBatch) -> IngestReport:
    """Open, update or clear tickets from the findings of one inspection run, per the ticket policy."""
    from collector.tickets.sources import finding_signals

    svc = ticket_service(app)
    if not (svc.cfg.enabled and svc.cfg.findings.enabled):
        return IngestReport()
    return svc.ingest(finding_signals(batch, svc.cfg.policy))


def process_forecasts(app: CollectorApp, forecasts: Iterable[CapacityForecast]) -> IngestReport:
    """Open predictive tickets for limits expected within the horizon; store ETA, band and series."""
    from collector.tickets.sources import forecast_signals

    svc = ticket_service(app)
    if not (svc.cfg.enabled and svc.cfg.forecasts.enabled):
        return IngestReport()
    return svc.ingest(forecast_signals(forecasts, svc.cfg.forecasts))


def process_anomalies(app: CollectorApp, anomalies: Iterable[Anomaly]) -> IngestReport:
    """Open tickets for anomaly episodes that meet ``tickets.anomalies``; clear the others."""
    from collector.tickets.sources import anomaly_signals

    svc = ticket_service(app)
    if not (svc.cfg.enabled and svc.cfg.anomalies.enabled):
        return IngestReport()
    return svc.ingest(anomaly_signals(anomalies, svc.cfg.anomalies))
