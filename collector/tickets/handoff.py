"""Where inspections hand over to tickets: a completed run's findings and updated checklist rows.

Both are called by :mod:`collector.inspection` (run completion, the checklist endpoint) with typed
values; the ticket policy decides what opens a ticket, and the ticket engine applies one open ticket
per fingerprint, the hysteresis, flapping and maintenance windows as for every other source.
A failure here is logged and never fails the run: the run's results are already stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from collector.tickets import IngestReport, process_findings, ticket_service
from collector.tickets.sources import FindingBatch, checklist_signals
from inspections import ChecklistRow, InspectionResult

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.findings")


def run_completed(app: CollectorApp, run_id: int, customer_id: str, result: InspectionResult) -> IngestReport:
    """Open, update or clear the tickets of a completed run's findings."""
    batch = FindingBatch(run_id=run_id, customer_id=customer_id, evaluated_at=result.evaluated_at,
                         findings=result.findings(), hostnames={h.host_id: h.hostname for h in result.hosts})
    try:
        report = process_findings(app, batch)
    except Exception:
        log.exception("event=finding_tickets_failed run=%d", run_id)
        return IngestReport()
    log.info("event=finding_tickets run=%d opened=%d reopened=%d repeated=%d cleared=%d suppressed=%d", run_id,
             len(report.opened), len(report.reopened), report.repeated, report.cleared, report.suppressed)
    return report


def checklist_updated(app: CollectorApp, run_id: int, customer_id: str, rows: Sequence[ChecklistRow]) -> IngestReport:
    """Rows marked abnormal (``issue``) open tickets per the policy; rows marked ok clear them."""
    svc = ticket_service(app)
    if not (svc.cfg.enabled and svc.cfg.findings.enabled):
        return IngestReport()
    customer = app.cfg.customer(customer_id)
    try:
        return svc.ingest(checklist_signals(rows, run_id, customer_id, customer.name if customer else customer_id,
                                            svc.cfg.policy, svc.now()))
    except Exception:
        log.exception("event=checklist_tickets_failed run=%d", run_id)
        return IngestReport()
