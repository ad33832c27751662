"""Archive, delivery over a real SMTP server on loopback, and the schedules with an injected clock."""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from collector.localrun import free_port
from collector.reporting import archive
from collector.reporting.builder import ReportRequestError
from collector.reporting.service import Request
from collector.reporting.tables import report_documents
from tests.reports.conftest import Collector, need_cjk_font
from tests.reports.dataset import TZ, Dataset, store_run


@dataclass
class Sink:
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def mail_sections(port: int, **reports: Any) -> dict[str, Any]:
    return {"notifications": {"smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                                       "from": "reports@provider.example", "timeout": "5s"}},
            "reports": {"provider": "某某科技 售后服务部", "copy_to": ["archive@provider.example"], **reports}}


def test_generated_reports_are_archived_with_checksums(collector: Collector) -> None:
    need_cjk_font()
    svc = collector.service
    record = svc.generate(Request("acme", "monthly", "2026-09", formats=("html", "pdf"), trigger="manual",
                                  requested_by="engineer-wang"))
    assert (record["status"], record["kind"], record["period"], record["language"]) == (
        "completed", "monthly", "2026-09", "zh")
    assert record["summary"]["score"] == 71 and record["summary"]["counts"]["critical"] == 1
    assert record["inspection_run_id"] is not None and record["delivery"]["status"] == "none"
    with collector.engine.connect() as conn:
        for doc in record["documents"]:
            stored = archive.read_document(conn, record["id"], doc["format"])
            assert hashlib.sha256(stored.content).hexdigest() == doc["sha256"] == stored.sha256
            assert stored.filename == f"acme-monthly-2026-09-zh.{doc['format']}"
        assert stored.content.startswith(b"%PDF-")
    # Regenerating a past period on demand (in English) is a new archive entry; the first one stays.
    again = svc.generate(Request("acme", "monthly", "2026-09", language="en", formats=("html",)))
    with collector.engine.connect() as conn:
        listed = archive.list_reports(conn, customer_id="acme", period="2026-09")
    assert [r["id"] for r in listed] == [again["id"], record["id"]] and again["language"] == "en"
    # A document changed behind the archive's back is reported, not served.
    with collector.engine.begin() as conn:
        conn.execute(update(report_documents).where(report_documents.c.report_id == record["id"],
                                                     report_documents.c.format == "html")
                     .values(content=b"<html>tampered</html>"))
    with collector.engine.connect() as conn, pytest.raises(archive.ArchiveIntegrityError, match="corrupted"):
        archive.read_document(conn, record["id"], "html")


def test_bad_requests_say_what_is_wrong(collector: Collector) -> None:
    svc = collector.service
    with pytest.raises(ReportRequestError, match="not a month"):
        svc.generate(Request("acme", "monthly", "2026-13"))
    with pytest.raises(ReportRequestError, match="2026Q3"):
        svc.generate(Request("acme", "quarterly", "2026-09"))
    with pytest.raises(ReportRequestError, match="unknown customer"):
        svc.generate(Request("globex", "monthly", "2026-09"))


def test_delivery_reaches_a_real_smtp_server_with_the_pdf_attached(tmp_path: Path, dataset: Dataset,
                                                                   smtp: tuple[Sink, int]) -> None:
    need_cjk_font()
    sink, port = smtp
    c = Collector(tmp_path, dataset, **mail_sections(port))
    try:
        record = c.service.generate(Request("acme", "quarterly", "2026Q3", deliver=True))
    finally:
        c.close()
    assert record["delivery"]["status"] == "sent", record["delivery"]
    assert record["delivery"]["recipients"] == ["zhangsan@acme.example", "archive@provider.example"]
    [(rcpt, raw)] = sink.messages
    assert rcpt == ["zhangsan@acme.example", "archive@provider.example"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "[Patrol] 艾克米科技有限公司 2026年第三季度季度健康报告"
    attachments = list(msg.iter_attachments())  # type: ignore[attr-defined]
    assert [a.get_filename() for a in attachments] == ["acme-quarterly-2026Q3-zh.pdf"]
    pdf = attachments[0].get_content()
    assert attachments[0].get_content_type() == "application/pdf" and pdf.startswith(b"%PDF-")
    pdf_doc = next(d for d in record["documents"] if d["format"] == "pdf")
    assert hashlib.sha256(pdf).hexdigest() == pdf_doc["sha256"]
    body = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert pdf_doc["sha256"] in body and "设备平均可用率" in body


def test_failed_delivery_is_retried_by_the_schedule(tmp_path: Path, dataset: Dataset) -> None:
    need_cjk_font()
    port = free_port()  # nothing listens yet
    c = Collector(tmp_path, dataset, **mail_sections(port, retry_after="10m", formats=["pdf"]))
    try:
        record = c.service.generate(Request("acme", "monthly", "2026-09", deliver=True))
        d = record["delivery"]
        assert (d["status"], d["attempts"]) == ("pending", 1) and "cannot deliver" in d["error"]
        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            assert c.service.run_pending() == [] and not sink.messages  # not due yet: 10 minutes
            c.clock.t += 601
            c.service.run_pending()
        finally:
            controller.stop()
        with c.engine.connect() as conn:
            d = archive.get_report(conn, record["id"])["delivery"]
        assert (d["status"], d["attempts"], d["error"]) == ("sent", 2, None)
        assert len(sink.messages) == 1
    finally:
        c.close()


def test_monthly_report_follows_the_scheduled_monthly_inspection(tmp_path: Path, dataset: Dataset,
                                                                  smtp: tuple[Sink, int]) -> None:
    need_cjk_font()
    sink, port = smtp
    c = Collector(tmp_path, dataset, **mail_sections(port, quarterly={"enabled": False}))
    try:
        # The runs already in the store are history: enabling reports does not mail a backlog.
        assert c.service.run_pending() == []
        october = (datetime(2026, 10, 1, 2, tzinfo=TZ), datetime(2026, 11, 1, 2, tzinfo=TZ))
        c.clock.set(october[1] + timedelta(minutes=5))
        run_id = store_run(c.engine, "monthly", *october, 77)
        [report_id] = c.service.run_pending()
        assert c.service.run_pending() == []  # handed out once
        with c.engine.connect() as conn:
            record = archive.get_report(conn, report_id)
        assert (record["period"], record["trigger"], record["inspection_run_id"]) == ("2026-10", "schedule", run_id)
        assert record["summary"]["score"] == 77 and record["delivery"]["status"] == "sent"
        assert {d["format"] for d in record["documents"]} == {"html", "pdf"}
        assert len(sink.messages) == 1
        # A daily run does not make a monthly report.
        store_run(c.engine, "daily", datetime(2026, 11, 1, 6, tzinfo=TZ), datetime(2026, 11, 2, 6, tzinfo=TZ), 70)
        assert c.service.run_pending() == []
    finally:
        c.close()


def test_monthly_schedule_waits_for_a_run_still_in_progress(collector: Collector) -> None:
    from collector.inspection import runs
    from collector.inspection.runs import RunRequest

    sched = collector.service.scheduler
    assert sched.due() == []
    running = runs.create_run(collector.engine, RunRequest("acme", "monthly", "schedule"), "monthly", None, [],
                              "test", 0, status="running")
    later = store_run(collector.engine, "monthly", datetime(2026, 10, 1, 2, tzinfo=TZ),
                      datetime(2026, 11, 1, 2, tzinfo=TZ), 77)
    assert sched.due() == []  # the later run waits behind the one still running
    runs.mark_finished(collector.engine, running, "failed", 1, "boom")
    [due] = sched.due()
    assert (due.inspection_run_id, str(due.period)) == (later, "2026-10")


def test_quarterly_report_comes_on_the_first_day_of_the_quarter(collector: Collector) -> None:
    sched = collector.service.scheduler
    clock = collector.clock
    assert sched.due() == []  # now is 2 Oct 2026: the next one is due on 1 Jan 2027, 08:00 Shanghai
    [status] = sched.status()
    assert status["quarterly"]["next_due"] == datetime(2027, 1, 1, 8, tzinfo=TZ).isoformat()
    clock.set(datetime(2027, 1, 1, 7, 59, tzinfo=TZ))
    assert [d for d in sched.due() if d.kind == "quarterly"] == []
    clock.set(datetime(2027, 1, 1, 8, 0, tzinfo=TZ))
    [due] = [d for d in sched.due() if d.kind == "quarterly"]
    assert (str(due.period), due.coalesced, due.scheduled_for) == ("2026Q4", 1, datetime(2027, 1, 1, 8, tzinfo=TZ))
    assert [d for d in sched.due() if d.kind == "quarterly"] == []
    # Down over two due times (1 Apr and 1 Jul): one report, for the latest quarter.
    clock.set(datetime(2027, 7, 5, tzinfo=TZ))
    [due] = [d for d in sched.due() if d.kind == "quarterly"]
    assert (str(due.period), due.coalesced) == ("2027Q2", 2)
    [status] = sched.status()
    assert status["quarterly"]["next_due"] == datetime(2027, 10, 1, 8, tzinfo=TZ).isoformat()


def test_two_collectors_on_one_store_generate_a_due_report_once(tmp_path: Path, dataset: Dataset) -> None:
    from collector.reporting.schedule import CustomerSchedule, ReportScheduler

    c = Collector(tmp_path, dataset)
    try:
        other = ReportScheduler(c.engine, [CustomerSchedule("acme", "Asia/Shanghai")], c.service.config, c.clock)
        assert c.service.scheduler.due() == [] and other.due() == []
        c.clock.set(datetime(2027, 1, 1, 9, tzinfo=TZ))
        got = [d for d in (*c.service.scheduler.due(), *other.due()) if d.kind == "quarterly"]
        assert [str(d.period) for d in got] == ["2026Q4"]
    finally:
        c.close()
