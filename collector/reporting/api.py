"""HTTP API of reports: generate (or regenerate) a period, list the archive, download, deliver.

    POST /api/v1/reports                     {customer, kind, period, language?, formats?, deliver?, recipients?}
                                             engineer → 201 the archived report
    GET  /api/v1/reports?customer=&kind=&period=&limit=    archived reports, newest first      viewer
    GET  /api/v1/reports/schedule            per customer: monthly cursor, next quarterly due   viewer
    GET  /api/v1/reports/{id}                one report with its documents and delivery          viewer
    GET  /api/v1/reports/{id}/{format}       the document (html | pdf), checksum verified        viewer
    POST /api/v1/reports/{id}/deliver        {recipients?}  e-mail it now                        engineer

A download carries ``X-Patrol-SHA256`` (and the same value as its ETag) so a client can check what
it received.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from collector.api_deps import Engineer, Viewer
from collector.params import BODY_CONFIG, StoreId
from collector.reporting import archive
from collector.reporting.builder import ReportRequestError
from collector.reporting.config import check_emails
from collector.reporting.service import ReportService, service_of
from collector.reporting.service import Request as ReportRequest
from reports.fonts import FontError
from reports.render import RenderError

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class GenerateBody(BaseModel):
    model_config = BODY_CONFIG

    customer: str = Field(min_length=1)
    kind: Literal["monthly", "quarterly"]
    period: str = Field(description="2026-10 for a month, 2026Q3 for a quarter")
    language: Literal["zh", "en"] | None = Field(None, description="default: the customer's language")
    formats: list[Literal["html", "pdf"]] | None = Field(None, min_length=1, description="default: reports.formats")
    deliver: bool = Field(False, description="e-mail it to the recipients after generating")
    recipients: list[str] | None = Field(None, description="default: the customer's report recipients")
    trigger: Literal["api", "manual"] = Field("api", description="manual when a person asked (the CLI)")
    force: bool = Field(False, description="generate even though no completed inspection covers the period; "
                                           "the cover then says so")

    @field_validator("recipients")
    @classmethod
    def _emails(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_emails(v)


class DeliverBody(BaseModel):
    model_config = BODY_CONFIG

    recipients: list[str] | None = None

    @field_validator("recipients")
    @classmethod
    def _emails(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_emails(v)


def _service(request: Request) -> ReportService:
    service = service_of(request.app.state.collector)
    if service is None:
        raise HTTPException(503, "reports are disabled on this collector (reports.enabled in collector.yaml)")
    return service


@router.post("", status_code=201)
def generate(body: GenerateBody, request: Request, who: Engineer) -> dict[str, Any]:
    service = _service(request)
    req = ReportRequest(customer_id=body.customer, kind=body.kind, period=body.period, language=body.language,
                        formats=tuple(body.formats) if body.formats else None, trigger=body.trigger,
                        requested_by=who, deliver=body.deliver,
                        recipients=tuple(body.recipients) if body.recipients else None, force=body.force)
    try:
        return service.generate(req)
    except ReportRequestError as exc:
        raise HTTPException(400, str(exc)) from None
    except (RenderError, FontError) as exc:
        raise HTTPException(500, str(exc)) from None


@router.get("")
def list_reports(request: Request, _: Viewer, customer: str | None = None, kind: str | None = None,
                 period: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    service = _service(request)
    with service.engine.connect() as conn:
        return archive.list_reports(conn, customer, kind, period, max(1, min(limit, 1000)))


@router.get("/schedule")
def schedule(request: Request, _: Viewer) -> list[dict[str, Any]]:
    return _service(request).scheduler.status()


@router.get("/service-quality")
def service_quality(request: Request, _: Viewer, period: str, lang: Literal["zh", "en"] = "zh",
                    format: Literal["html", "pdf"] = "pdf", timezone: str | None = None) -> Response:
    """服务质量关键指标分析: the provider's SLA, time, satisfaction, repeat-fault and knowledge-base figures
    over every customer for a month (2026-11) or quarter (2026Q4)."""
    service = _service(request)
    try:
        content = service.service_quality(period, lang, format, timezone)
    except ReportRequestError as exc:
        raise HTTPException(400, str(exc)) from None
    except (RenderError, FontError) as exc:
        raise HTTPException(500, str(exc)) from None
    name = f"service-quality-{period}-{lang}.{format}"
    return Response(content=content, media_type="application/pdf" if format == "pdf" else "text/html; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{report_id}")
def get_report(report_id: StoreId, request: Request, _: Viewer) -> dict[str, Any]:
    service = _service(request)
    with service.engine.connect() as conn:
        try:
            return archive.get_report(conn, report_id)
        except archive.ReportNotFound as exc:
            raise HTTPException(404, str(exc)) from None


@router.get("/{report_id}/{fmt}")
def download(report_id: StoreId, fmt: Literal["html", "pdf"], request: Request, _: Viewer) -> Response:
    service = _service(request)
    with service.engine.connect() as conn:
        try:
            doc = archive.read_document(conn, report_id, fmt)
        except archive.ReportNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except archive.ArchiveIntegrityError as exc:
            raise HTTPException(500, str(exc)) from None
    return Response(content=doc.content, media_type=doc.media_type, headers={
        "Content-Disposition": f'attachment; filename="{doc.filename}"',
        "X-Patrol-SHA256": doc.sha256, "ETag": f'"{doc.sha256}"'})


@router.post("/{report_id}/deliver")
def deliver(report_id: StoreId, body: DeliverBody, request: Request, _: Engineer) -> dict[str, Any]:
    service = _service(request)
    try:
        return service.deliver(report_id, body.recipients)
    except archive.ReportNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ReportRequestError as exc:
        raise HTTPException(400, str(exc)) from None
