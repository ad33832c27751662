"""``/console/reports``: the report archive per customer, generating a report with its progress, the
sandboxed HTML preview and the downloads.

The archived HTML is our own rendered report, but it is shown only inside a sandboxed frame and
served with :data:`PREVIEW_CSP` (no scripts, nothing fetched, inline styles only), so the console's
own CSP stays as it is. The customer portal serves its downloads through :func:`document_response`
too, with the customer's filter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Form, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse

from collector.console.auth import Console, Engineer, Viewer
from collector.console.portal_data import owns_report, with_generated_ms
from collector.console.reports_page_jobs import ReportJob, jobs_of
from collector.console.routing import console_router
from collector.console.service import ConsoleService
from collector.console.templating import render
from collector.reporting import archive
from collector.reporting.service import ReportService, service_of
from reports import Period, PeriodError

router = console_router()

PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
               "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox")
KINDS = ("monthly", "quarterly")


def report_service(console: ConsoleService) -> ReportService:
    service = service_of(console.app)
    if service is None:
        raise HTTPException(404, "reports are disabled on this collector (reports.enabled in collector.yaml)")
    return service


def document_response(console: ConsoleService, report_id: int, fmt: str, *, customer_id: str | None = None,
                      inline: bool = False) -> Response:
    """An archived document (checksum verified); with ``customer_id`` only that customer's reports
    exist. HTML carries :data:`PREVIEW_CSP`, shown in place when ``inline``, else downloaded."""
    if fmt not in ("html", "pdf"):
        raise HTTPException(404, "error.not_found")
    with console.engine.connect() as conn:
        if customer_id is not None and not owns_report(conn, customer_id, report_id):
            raise HTTPException(404, "error.not_found")
        try:
            doc = archive.read_document(conn, report_id, fmt)
        except archive.ReportNotFound:
            raise HTTPException(404, "error.not_found") from None
        except archive.ArchiveIntegrityError as exc:
            raise HTTPException(409, str(exc)) from None
    disposition = "inline" if inline and fmt == "html" else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{doc.filename}"', "X-Patrol-SHA256": doc.sha256}
    if fmt == "html":
        headers.update({"Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"})
    return Response(content=doc.content, media_type=doc.media_type, headers=headers)


def current_periods(console: ConsoleService, customer_id: str | None) -> dict[str, str]:
    """The month and quarter running now in the customer's zone: the form's defaults."""
    from collector.console.i18n import zone

    now = datetime.fromtimestamp(console.app.clock(), tz=UTC)
    tz = zone(console.customer_timezone(customer_id))
    return {kind: str(Period.containing(kind, now, tz)) for kind in KINDS}  # type: ignore[arg-type]


def _archive(console: ConsoleService, customer: str) -> list[dict[str, object]]:
    with console.engine.connect() as conn:
        return with_generated_ms(archive.list_reports(conn, customer or None, limit=200))


@router.get("/console/reports")
async def reports_page(request: Request, session: Viewer, console: Console, customer: str = "") -> Response:
    report_service(console)
    names = console.customer_names()
    if customer and customer not in names:
        customer = ""
    rows = await run_in_threadpool(_archive, console, customer)
    return render(request, session, "reports.html", active="nav.reports", rows=rows, customers=names,
                  customer=customer, zones=console.customer_zones(), periods=current_periods(console, customer or None),
                  can_generate=session.user.role in ("engineer", "admin"), error="", error_values={})


@router.post("/console/reports")
async def generate(request: Request, session: Engineer, console: Console,
                   customer: Annotated[str, Form(max_length=128)] = "",
                   kind: Annotated[str, Form(max_length=16)] = "monthly",
                   period: Annotated[str, Form(max_length=16)] = "",
                   language: Annotated[str, Form(max_length=8)] = "") -> Response:
    service = report_service(console)
    names = console.customer_names()
    error, values = "", {}
    if customer not in names or kind not in KINDS:
        error, values = "reports.bad_period", {"error": f"{customer or '?'} / {kind}"}
    else:
        try:
            Period.parse(period.strip(), kind)  # type: ignore[arg-type]
        except PeriodError as exc:
            error, values = "reports.bad_period", {"error": str(exc)}
    if error:
        rows = await run_in_threadpool(_archive, console, customer if customer in names else "")
        return render(request, session, "reports.html", status_code=400, active="nav.reports", rows=rows,
                      customers=names, customer=customer if customer in names else "", zones=console.customer_zones(),
                      periods=current_periods(console, customer if customer in names else None), can_generate=True,
                      error=error, error_values=values)
    actor = session.user.username
    lang = language if language in ("zh", "en") else None

    def finished(job: ReportJob) -> None:
        console.audit("console.report.generated", actor, action=job.kind,
                      args={"customer": job.customer_id, "period": job.period, "report": job.report_id or "-"},
                      outcome="ok" if job.state == "completed" else "failed", detail=job.error)

    job = jobs_of(service).start(customer, kind, period.strip(), lang, actor, finished)
    await run_in_threadpool(console.audit, "console.report.generate", actor, action=kind,
                            args={"customer": customer, "period": period.strip(), "job": job.id})
    return RedirectResponse(f"/console/reports/jobs/{job.id}", status_code=303)


def _job(console: ConsoleService, job_id: str) -> ReportJob:
    job = jobs_of(report_service(console)).get(job_id)
    if job is None:
        raise HTTPException(404, "error.not_found")
    return job


@router.get("/console/reports/jobs/{job_id}")
def job_page(request: Request, session: Viewer, console: Console, job_id: str) -> Response:
    job = _job(console, job_id)
    return render(request, session, "reports_job.html", active="nav.reports", job=job,
                  now=jobs_of(report_service(console)).clock(), customers=console.customer_names())


@router.get("/console/reports/jobs/{job_id}/status")
def job_status(request: Request, session: Viewer, console: Console, job_id: str) -> Response:
    """The progress fragment the job page polls (htmx swaps it in place until the job is done)."""
    job = _job(console, job_id)
    return render(request, session, "reports_job_status.html", job=job,
                  now=jobs_of(report_service(console)).clock())


@router.get("/console/api/reports/jobs/{job_id}")
def job_json(session: Viewer, console: Console, job_id: str) -> JSONResponse:
    job = _job(console, job_id)
    return JSONResponse(job.to_dict(jobs_of(report_service(console)).clock()))


def _report(console: ConsoleService, report_id: int) -> dict[str, object]:
    with console.engine.connect() as conn:
        try:
            return with_generated_ms([archive.get_report(conn, report_id)])[0]
        except archive.ReportNotFound:
            raise HTTPException(404, "error.not_found") from None


@router.get("/console/reports/{report_id}")
async def report_page(request: Request, session: Viewer, console: Console, report_id: int) -> Response:
    report_service(console)
    record = await run_in_threadpool(_report, console, report_id)
    formats = [d["format"] for d in record["documents"]]  # type: ignore[attr-defined]
    return render(request, session, "reports_detail.html", active="nav.reports", r=record, formats=formats,
                  customers=console.customer_names(), zones=console.customer_zones())


@router.get("/console/reports/{report_id}/preview")
async def preview(session: Viewer, console: Console, report_id: int) -> Response:
    return await run_in_threadpool(document_response, console, report_id, "html", inline=True)


@router.get("/console/reports/{report_id}/{fmt}")
async def download(session: Viewer, console: Console, report_id: int, fmt: Literal["html", "pdf"]) -> Response:
    return await run_in_threadpool(document_response, console, report_id, fmt)
