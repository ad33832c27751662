"""Tickets (工单) with SLA clocks, noise control and notifications (service-requirements §3).

Entry points for the rest of the collector (synchronous database work: from async code call them
with ``await asyncio.to_thread(process_findings, app, result)``)::

    from collector.tickets import process_findings, process_forecasts, process_anomalies

    process_findings(app, inspection_result)   # InspectionResult, HostResults or Findings (objects or dicts)
    process_forecasts(app, [{"host_id": "web-01", "series": "disk.used_percent",
                             "labels": {"mount": "/data"}, "forecast": fc, "ts": ts, "values": values}])
    process_anomalies(app, [{"host_id": "web-01", "series": "cpu.busy_percent", "score": 0.62,
                             "observed": 92.0, "band_low": 20.0, "band_high": 35.0, "duration_s": 1500,
                             "display": {"en": "CPU busy", "zh": "CPU 使用率"}, "unit": "%"}])

Each returns an :class:`IngestReport` (tickets opened, reopened, repeated, cleared, resolved,
suppressed by maintenance). See docs/tickets.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from collector.tickets.service import IngestReport, ManualTicket, TicketService

if TYPE_CHECKING:
    from collector.app import CollectorApp

__all__ = ["IngestReport", "ManualTicket", "TicketService", "process_anomalies", "process_findings",
           "process_forecasts", "ticket_service"]


def ticket_service(app: CollectorApp) -> TicketService:
    from collector.tickets.runner import service_for

    return service_for(app)


def process_findings(app: CollectorApp, findings: Any) -> IngestReport:
    """Open, update or clear tickets from inspection findings (warning/critical fire, ok clears)."""
    from collector.tickets.sources import finding_signals

    svc = ticket_service(app)
    if not (svc.cfg.enabled and svc.cfg.findings.enabled):
        return IngestReport()
    return svc.ingest(finding_signals(findings, svc.cfg.findings, svc.now()))


def process_forecasts(app: CollectorApp, forecasts: Iterable[Any]) -> IngestReport:
    """Open predictive tickets for limits expected within the horizon; store ETA, band and series."""
    from collector.tickets.sources import forecast_signals

    svc = ticket_service(app)
    if not (svc.cfg.enabled and svc.cfg.forecasts.enabled):
        return IngestReport()
    return svc.ingest(forecast_signals(forecasts, svc.cfg.forecasts, svc.now()))


def process_anomalies(app: CollectorApp, scores: Iterable[Any]) -> IngestReport:
    """Open tickets for anomaly episodes that meet ``tickets.anomalies``; clear the others."""
    from collector.tickets.sources import anomaly_signals

    svc = ticket_service(app)
    if not (svc.cfg.enabled and svc.cfg.anomalies.enabled):
        return IngestReport()
    return svc.ingest(anomaly_signals(scores, svc.cfg.anomalies, svc.now()))
