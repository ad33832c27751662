"""The report archive: every generated report with its documents and their SHA-256 checksums.

A document's checksum is computed when it is stored and verified whenever it is read back, so a
corrupted row is reported instead of handed to a customer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from collector.reporting.tables import report_documents, reports
from reports import MEDIA_TYPES

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ReportNotFound(LookupError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: see 'patrol report list' for the archived reports")


class ArchiveIntegrityError(RuntimeError):
    """A stored document no longer matches its checksum."""


@dataclass(frozen=True)
class StoredDocument:
    report_id: int
    format: str
    filename: str
    media_type: str
    size: int
    sha256: str
    content: bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def filename_for(customer_id: str, kind: str, period: str, language: str, fmt: str) -> str:
    stem = "-".join(_UNSAFE.sub("_", part) for part in (customer_id, kind, period, language))
    return f"{stem}.{fmt}"


def _iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat() if ms else None


@dataclass(frozen=True)
class NewReport:
    customer_id: str
    kind: str
    period: str
    language: str
    trigger: str
    requested_by: str | None
    inspection_run_id: int | None
    generated_ms: int
    data_until_ms: int | None
    summary: dict[str, Any] | None
    collector_id: str


def save(engine: Engine, new: NewReport, documents: Mapping[str, bytes], recipients: Sequence[str] | None = None,
         delivery_status: str = "none", delivery_error: str | None = None) -> int:
    """Archive a generated report and its documents in one transaction; returns the report id."""
    with engine.begin() as conn:
        report_id = conn.execute(insert(reports).values(
            customer_id=new.customer_id, kind=new.kind, period=new.period, language=new.language, status="completed",
            error=None, trigger=new.trigger, requested_by=new.requested_by, inspection_run_id=new.inspection_run_id,
            generated_ms=new.generated_ms, data_until_ms=new.data_until_ms, summary=new.summary,
            collector_id=new.collector_id, delivery_status=delivery_status,
            recipients=list(recipients) if recipients is not None else None, delivery_attempts=0,
            delivery_next_ms=new.generated_ms if delivery_status == "pending" else None,
            delivery_error=delivery_error).returning(reports.c.id)).scalar_one()
        if documents:
            conn.execute(insert(report_documents), [
                {"report_id": report_id, "format": fmt, "filename": filename_for(new.customer_id, new.kind, new.period,
                                                                                 new.language, fmt),
                 "media_type": MEDIA_TYPES[fmt], "size": len(data), "sha256": sha256(data), "content": data}
                for fmt, data in documents.items()])
    return int(report_id)


def save_failure(engine: Engine, new: NewReport, error: str) -> int:
    """Record a generation that failed, so the schedule's history shows it."""
    with engine.begin() as conn:
        report_id = conn.execute(insert(reports).values(
            customer_id=new.customer_id, kind=new.kind, period=new.period, language=new.language, status="failed",
            error=error, trigger=new.trigger, requested_by=new.requested_by, inspection_run_id=new.inspection_run_id,
            generated_ms=new.generated_ms, data_until_ms=None, summary=None, collector_id=new.collector_id,
            delivery_status="none", delivery_attempts=0).returning(reports.c.id)).scalar_one()
    return int(report_id)


def _documents(conn: Connection, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    d = report_documents.c
    for i in range(0, len(ids), 500):
        rows = conn.execute(select(d.report_id, d.format, d.filename, d.media_type, d.size, d.sha256)
                            .where(d.report_id.in_(list(ids[i:i + 500]))).order_by(d.report_id, d.format))
        for r in rows:
            out.setdefault(r.report_id, []).append({"format": r.format, "filename": r.filename,
                                                     "media_type": r.media_type, "size": r.size, "sha256": r.sha256})
    return out


def _record(r: Any, documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": r.id, "customer_id": r.customer_id, "kind": r.kind, "period": r.period, "language": r.language,
        "status": r.status, "error": r.error, "trigger": r.trigger, "requested_by": r.requested_by,
        "inspection_run_id": r.inspection_run_id, "generated": _iso(r.generated_ms),
        "data_until": _iso(r.data_until_ms), "summary": r.summary, "documents": documents,
        "delivery": {"status": r.delivery_status, "recipients": r.recipients or [], "attempts": r.delivery_attempts,
                     "next_attempt": _iso(r.delivery_next_ms), "delivered": _iso(r.delivered_ms),
                     "error": r.delivery_error},
    }


def list_reports(conn: Connection, customer_id: str | None = None, kind: str | None = None,
                 period: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    q = select(reports).order_by(reports.c.id.desc()).limit(limit)
    if customer_id:
        q = q.where(reports.c.customer_id == customer_id)
    if kind:
        q = q.where(reports.c.kind == kind)
    if period:
        q = q.where(reports.c.period == period)
    rows = conn.execute(q).all()
    docs = _documents(conn, [r.id for r in rows])
    return [_record(r, docs.get(r.id, [])) for r in rows]


def get_report(conn: Connection, report_id: int) -> dict[str, Any]:
    row = conn.execute(select(reports).where(reports.c.id == report_id)).first()
    if row is None:
        raise ReportNotFound(f"no report {report_id}")
    return _record(row, _documents(conn, [report_id]).get(report_id, []))


def read_document(conn: Connection, report_id: int, fmt: str) -> StoredDocument:
    """A stored document, its checksum verified."""
    d = report_documents.c
    row = conn.execute(select(report_documents).where(d.report_id == report_id, d.format == fmt)).first()
    if row is None:
        get_report(conn, report_id)  # a missing report says so
        have = [r[0] for r in conn.execute(select(d.format).where(d.report_id == report_id))]
        raise ReportNotFound(f"report {report_id} has no {fmt} document (it has: {', '.join(have) or 'none'}); "
                             "generate the period again with that format")
    content = bytes(row.content)
    actual = sha256(content)
    if actual != row.sha256 or len(content) != row.size:
        raise ArchiveIntegrityError(f"report {report_id} ({fmt}) is corrupted in the store: SHA-256 {actual} "
                                    f"differs from the recorded {row.sha256}; generate the period again")
    return StoredDocument(report_id, row.format, row.filename, row.media_type, row.size, row.sha256, content)


def due_deliveries(conn: Connection, now_ms: int) -> list[int]:
    t = reports.c
    return [r[0] for r in conn.execute(select(t.id).where(t.delivery_status == "pending", t.delivery_next_ms <= now_ms)
                                       .order_by(t.id))]


def set_delivery(engine: Engine, report_id: int, **values: Any) -> None:
    """Update delivery fields (status, recipients, attempts, next_ms, delivered_ms, error)."""
    names = {"status": "delivery_status", "recipients": "recipients", "attempts": "delivery_attempts",
             "next_ms": "delivery_next_ms", "delivered_ms": "delivered_ms", "error": "delivery_error"}
    with engine.begin() as conn:
        conn.execute(update(reports).where(reports.c.id == report_id)
                     .values(**{names[k]: v for k, v in values.items()}))
