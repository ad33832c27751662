"""The report service inside the collector: generate, archive and deliver reports; run the schedules.

Generation is synchronous work (store reads, then Jinja2 and WeasyPrint) and runs off the event
loop: in the API's worker threads for requests, on a thread of the job scheduler for the schedules
(job ``reports``). One report is rendered at a time per collector, which bounds the memory a PDF of
a large fleet takes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.configfile import ConfigError
from collector.reporting import archive
from collector.reporting.builder import CustomerInfo, ReportBuilder, ReportRequestError, load_customer
from collector.reporting.config import Format, ReportsConfig, section, validate_customers
from collector.reporting.delivery import Attachment, DeliveryError, ReportMailer, mail_text
from collector.reporting.schedule import CustomerSchedule, DueReport, ReportScheduler
from collector.scheduler import Every, JobSpec
from reports import Lang, Locale, MonthlyReport, Period, PeriodError, Report, ReportKind, render_formats
from reports.fonts import FontError
from reports.render import RenderError

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.reports")


@dataclass(frozen=True)
class Request:
    customer_id: str
    kind: ReportKind
    period: str
    language: Lang | None = None
    formats: tuple[Format, ...] | None = None
    trigger: str = "api"  # schedule | api | manual
    requested_by: str | None = None
    deliver: bool = False
    recipients: tuple[str, ...] | None = None
    inspection_run_id: int | None = None
    # Generate even though no completed inspection covers the period; the report then says so on its cover.
    force: bool = False


def inspected(report: Report) -> bool:
    """Whether a completed inspection covers the report's period (the month's, or any of the quarter's)."""
    if isinstance(report, MonthlyReport):
        return report.inspection is not None
    return bool(report.running.score_trend)


def summary_of(report: Report) -> dict[str, Any]:
    """A few headline numbers stored with the archived report (listings, e-mail text)."""
    h = report.header
    if isinstance(report, MonthlyReport):
        return {"hosts": h.hosts, "score": report.score, "previous_score": report.previous_score,
                "counts": {"ok": report.counts.ok, "warning": report.counts.warning,
                           "critical": report.counts.critical, "unknown": report.counts.unknown},
                "forecasts": len(report.forecasts), "tickets_opened": report.ticket_summary.opened,
                "tickets_resolved": report.ticket_summary.resolved,
                "inspection_run_id": report.inspection.run_id if report.inspection else None,
                "partial": h.partial, "inspected": not h.uninspected}
    return {"hosts": h.hosts, "availability_pct": report.running.fleet_availability_pct,
            "tickets": report.faults.tickets, "mttr_s": report.faults.mttr_s,
            "repeat_faults": len(report.faults.repeats),
            "sla": {s.clock: s.compliance_pct for s in report.service.sla},
            "satisfaction_pct": report.service.satisfaction.overall_pct,
            "forecasts": len(report.next_steps.forecasts), "partial": h.partial, "inspected": not h.uninspected}


class ReportService:
    name = "reports"

    def __init__(self, app: CollectorApp, config: ReportsConfig) -> None:
        from collector.notify.config import NotificationsConfig
        from collector.tickets.config import TicketsConfig

        self.app = app
        self.config = config
        self.engine = app.engine
        self.clock = app.clock
        tickets: TicketsConfig = app.cfg.section("tickets")
        notifications: NotificationsConfig = app.cfg.section("notifications")
        self.builder = ReportBuilder(app.engine, app.ingestor.retention_s, tickets, config, app.clock)
        self.mailer = ReportMailer(notifications.smtp if notifications.enabled else None, config.subject_prefix)
        self.scheduler = ReportScheduler(app.engine, [CustomerSchedule(c.id, c.timezone) for c in app.cfg.customers],
                                         config, app.clock)
        self._render_lock = threading.Lock()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def service_quality(self, period: str, language: str, fmt: str, timezone: str | None = None) -> bytes:
        """The provider's service-quality report of a month or quarter across every customer."""
        from collector.reporting.quality import build_quality
        from collector.tickets.config import TicketsConfig
        from reports.quality import render_quality

        try:
            chosen = Period.parse(period)
        except PeriodError as exc:
            raise ReportRequestError(str(exc)) from None
        zone = timezone or next((c.timezone for c in self.app.cfg.customers), "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReportRequestError(f"unknown time zone {zone!r}: use an IANA name such as Asia/Shanghai") from None
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        if chosen.start(ZoneInfo(zone)) > now:
            raise ReportRequestError(f"{chosen} has not begun yet")
        tickets: TicketsConfig = self.app.cfg.section("tickets")
        report = build_quality(self.engine, tickets, list(self.app.cfg.customers), self.config.provider, chosen,
                               zone, now)
        with self._render_lock:
            return render_quality(report, "zh" if language == "zh" else "en", "pdf" if fmt == "pdf" else "html")

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    # -- generating ----------------------------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerInfo:
        with self.engine.connect() as conn:
            return load_customer(conn, customer_id)

    def language_of(self, customer: CustomerInfo) -> Lang:
        own = self.config.customer(customer.id).language
        lang = own or customer.language
        return "zh" if lang == "zh" else "en"

    def recipients_of(self, customer: CustomerInfo) -> list[str]:
        own = self.config.customer(customer.id).recipients
        to = list(own) if own is not None else list(customer.emails)
        return list(dict.fromkeys([*to, *self.config.copy_to]))

    def build(self, customer_id: str, kind: ReportKind, period: str) -> Report:
        try:
            parsed = Period.parse(period, kind)
        except PeriodError as exc:
            raise ReportRequestError(str(exc)) from None
        return self.builder.build(customer_id, parsed)

    def generate(self, req: Request) -> dict[str, Any]:
        """Build, render, archive (and optionally deliver) a report; returns its archive record.

        Raises :class:`ReportRequestError` for a request that cannot be served as asked, and
        :class:`RenderError` when rendering is impossible on this machine (a font is missing).
        """
        customer = self.customer(req.customer_id)
        lang = req.language or self.language_of(customer)
        formats = tuple(dict.fromkeys(req.formats or self.config.formats_with_attachments()))
        t0 = time.perf_counter()
        model = self.build(req.customer_id, req.kind, req.period)
        if not inspected(model):
            if not req.force:
                period = model.header.period
                first = period if req.kind == "monthly" else period.months()[0]
                raise ReportRequestError(
                    f"no completed inspection covers {period} for customer {customer.id}, so the report would hold "
                    f"no inspection findings: inspect it first (patrol inspect {customer.id} --period {first}"
                    f"{' and the other months' if req.kind == 'quarterly' else ''}), or force the report "
                    "(--force; \"force\": true in the API), whose cover then says that no inspection was made")
            model = replace(model, header=replace(model.header, uninspected=True))
        built = time.perf_counter()
        new = archive.NewReport(customer_id=customer.id, kind=req.kind, period=str(model.header.period),
                                language=lang, trigger=req.trigger, requested_by=req.requested_by,
                                inspection_run_id=req.inspection_run_id or _run_of(model),
                                generated_ms=self._now_ms(), data_until_ms=int(model.header.data_until.timestamp()
                                                                                 * 1000),
                                summary=summary_of(model), collector_id=self.app.collector_id)
        try:
            with self._render_lock:
                documents = render_formats(model, lang, formats)
        except (RenderError, FontError) as exc:
            archive.save_failure(self.engine, new, str(exc))
            raise
        recipients = list(req.recipients) if req.recipients else self.recipients_of(customer)
        status, error = ("pending", None) if req.deliver else ("none", None)
        if req.deliver and not recipients:
            status, error = "skipped", (f"no recipients for customer {customer.id}: give contacts an email in "
                                        f"customers: or set reports.customers.{customer.id}.recipients")
        elif req.deliver and not self.mailer.configured:
            status, error = "skipped", "no SMTP server: configure notifications.smtp in collector.yaml"
        report_id = archive.save(self.engine, new, documents, recipients if req.deliver else None, status, error)
        log.info("event=report_generated id=%d customer=%s kind=%s period=%s lang=%s formats=%s build_s=%.2f "
                 "render_s=%.2f trigger=%s", report_id, customer.id, req.kind, new.period, lang, ",".join(formats),
                 built - t0, time.perf_counter() - built, req.trigger)
        if status == "skipped":
            log.warning("event=report_not_delivered id=%d reason=%r", report_id, error)
        if status == "pending":
            self.deliver(report_id)
        with self.engine.connect() as conn:
            return archive.get_report(conn, report_id)

    # -- delivering ----------------------------------------------------------------------------

    def deliver(self, report_id: int, recipients: Sequence[str] | None = None) -> dict[str, Any]:
        """E-mail an archived report now; failures are retried by the schedule (transient ones)."""
        with self.engine.connect() as conn:
            record = archive.get_report(conn, report_id)
            if record["status"] != "completed":
                raise ReportRequestError(f"report {report_id} failed to generate; generate the period again")
            attach = [f for f in self.config.attach if any(d["format"] == f for d in record["documents"])] or \
                [d["format"] for d in record["documents"]]
            docs = [archive.read_document(conn, report_id, fmt) for fmt in attach]
        customer = self.customer(record["customer_id"])
        to = list(recipients) if recipients else (record["delivery"]["recipients"] or self.recipients_of(customer))
        attempts = int(record["delivery"]["attempts"] or 0) + 1
        if not to:
            archive.set_delivery(self.engine, report_id, status="skipped", attempts=attempts, next_ms=None,
                                 error=f"no recipients for customer {customer.id}")
            raise ReportRequestError(f"no recipients for customer {customer.id}: give contacts an email in "
                                     f"customers: or set reports.customers.{customer.id}.recipients")
        lang: Lang = "zh" if record["language"] == "zh" else "en"
        loc = Locale(lang, ZoneInfo(customer.timezone))
        attachments = [Attachment(d.filename, d.media_type, d.content, d.sha256) for d in docs]
        subject, text = mail_text(loc, record["kind"], customer.name, Period.parse(record["period"], record["kind"]),
                                  self.config.provider, record["summary"], attachments)
        try:
            refused = self.mailer.send(to, subject, text, attachments,
                                       delivery_id=f"report-{report_id}-{uuid.uuid4().hex[:8]}")
        except DeliveryError as exc:
            give_up = exc.permanent or attempts >= self.config.delivery_attempts
            delay = self.config.retry_after * 2 ** (attempts - 1)
            archive.set_delivery(self.engine, report_id, status="failed" if give_up else "pending", recipients=to,
                                 attempts=attempts, next_ms=None if give_up else self._now_ms() + int(delay * 1000),
                                 error=str(exc))
            log.warning("event=report_delivery_failed id=%d attempts=%d final=%s error=%r", report_id, attempts,
                        give_up, str(exc))
        else:
            error = f"refused by the server: {', '.join(refused)}" if refused else None
            archive.set_delivery(self.engine, report_id, status="sent", recipients=to, attempts=attempts,
                                 next_ms=None, delivered_ms=self._now_ms(), error=error)
            log.info("event=report_delivered id=%d to=%d refused=%d", report_id, len(to), len(refused))
        with self.engine.connect() as conn:
            return archive.get_report(conn, report_id)

    # -- schedule ------------------------------------------------------------------------------

    def run_pending(self) -> list[int]:
        """Generate (and deliver) every due report, retry due deliveries; returns new report ids."""
        made: list[int] = []
        for due in self.scheduler.due():
            report_id = self._scheduled(due)
            if report_id is not None:
                made.append(report_id)
        with self.engine.connect() as conn:
            retry = archive.due_deliveries(conn, self._now_ms())
        for report_id in retry:
            try:
                self.deliver(report_id)
            except ReportRequestError as exc:
                log.warning("event=report_delivery_skipped id=%d reason=%r", report_id, str(exc))
        return made

    def _scheduled(self, due: DueReport) -> int | None:
        req = Request(customer_id=due.customer_id, kind=due.kind, period=str(due.period), trigger="schedule",
                      requested_by=f"schedule:{due.kind}", deliver=self.config.deliver,
                      inspection_run_id=due.inspection_run_id)
        try:
            return int(self.generate(req)["id"])
        except (ReportRequestError, RenderError, FontError) as exc:
            log.error("event=report_failed customer=%s kind=%s period=%s error=%s", due.customer_id, due.kind,
                      due.period, exc)
        except Exception as exc:
            log.exception("event=report_failed customer=%s kind=%s period=%s", due.customer_id, due.kind, due.period)
            with contextlib.suppress(Exception):
                customer = self.customer(due.customer_id)
                archive.save_failure(self.engine, archive.NewReport(
                    customer_id=due.customer_id, kind=due.kind, period=str(due.period),
                    language=self.language_of(customer), trigger="schedule", requested_by=req.requested_by,
                    inspection_run_id=due.inspection_run_id, generated_ms=self._now_ms(), data_until_ms=None,
                    summary=None, collector_id=self.app.collector_id), f"{type(exc).__name__}: {exc}")
        return None


def _run_of(model: Report) -> int | None:
    return model.inspection.run_id if isinstance(model, MonthlyReport) and model.inspection else None


def create_service(app: CollectorApp) -> ReportService | None:
    """The service factory (declared in ``collector/reporting/feature.py``); None when reports are disabled."""
    config = section(app.cfg)
    if not config.enabled:
        return None
    try:
        validate_customers(config, {c.id for c in app.cfg.customers})
    except ValueError as exc:
        raise ConfigError(f"invalid reports section: {exc}") from None
    return ReportService(app, config)


def jobs(service: ReportService) -> list[JobSpec]:
    # At start too: reports that fell due while the collector was down are generated at once.
    return [JobSpec("reports", "Reports: generate and deliver the reports that are due", service.run_pending,
                    Every(service.config.check_every), start_delay=0)]


def service_of(app: Any) -> ReportService | None:
    from collector.services import find_service

    return find_service(app, ReportService)
