"""The monthly inspection report carries the run's maintenance record (系统维护记录表)."""

from __future__ import annotations

from pathlib import Path

from collector.findings import records
from collector.reporting.builder import ReportBuilder
from collector.reporting.config import ReportsConfig
from collector.tickets.service import TicketService
from reports import MonthlyReport, Period, render_html
from tests.reports.conftest import RETENTION
from tests.reports.dataset import build_dataset


def test_a_fix_on_the_spot_is_in_the_monthly_report(tmp_path: Path) -> None:
    data = build_dataset(tmp_path)
    svc = TicketService(data.engine, data.tickets_cfg, {c.id: c for c in data.cfg.customers}, data.clock)
    builder = ReportBuilder(data.engine, RETENTION, data.tickets_cfg, ReportsConfig(), data.clock)
    before = builder.build("acme", Period.parse("2026-09"))
    assert isinstance(before, MonthlyReport) and before.maintenance == ()
    assert "本次巡检没有现场排除的问题。" in render_html(before, "zh")

    records.record_fix(svc, data.runs["monthly-sep"], "db-01:logs.oom_kills", "应用进程被 OOM 终止 3 次",
                       "JVM 堆上限高于可用内存", "将 -Xmx 调整为 4g 并重启服务", "engineer-wang")
    report = builder.build("acme", Period.parse("2026-09"))
    assert isinstance(report, MonthlyReport)
    [entry] = report.maintenance
    assert (entry.host.hostname if entry.host else None, entry.name["zh"], entry.subject) == (
        "db-01", "内存溢出终止进程", "")
    assert (entry.symptom, entry.steps, entry.recorded_by) == (
        "应用进程被 OOM 终止 3 次", "将 -Xmx 调整为 4g 并重启服务", "engineer-wang")
    zh, en = render_html(report, "zh"), render_html(report, "en")
    assert "系统维护记录表" in zh and "JVM 堆上限高于可用内存" in zh and "内存溢出终止进程" in zh
    assert "Maintenance record" in en and "OOM kills" in en and "Fix steps" in en


def test_the_memo_lists_what_is_left_for_follow_up_tickets(tmp_path: Path) -> None:
    data = build_dataset(tmp_path)
    svc = TicketService(data.engine, data.tickets_cfg, {c.id: c for c in data.cfg.customers}, data.clock)
    builder = ReportBuilder(data.engine, RETENTION, data.tickets_cfg, ReportsConfig(), data.clock)
    before = builder.build("acme", Period.parse("2026-09"))
    assert isinstance(before, MonthlyReport)
    with data.engine.connect() as conn:
        expected = records.memo(conn, data.tickets_cfg.policy, data.runs["monthly-sep"])
    assert expected, "the dataset's September run has problems the policy opens tickets for"
    assert [(m.host.hostname if m.host else None, m.status, m.ticket_id) for m in before.memo] == [
        (m.hostname, m.status, m.ticket.id if m.ticket else None) for m in expected]
    oom = next(m for m in before.memo if m.host and m.host.hostname == "db-01" and m.name["en"] == "OOM kills")
    zh, en = render_html(before, "zh"), render_html(before, "en")
    memo_zh = zh[zh.index("系统维护备忘录"):]
    assert "内存溢出终止进程" in memo_zh and "屏幕显示" in memo_zh and "有问题" in memo_zh
    assert "Maintenance memo" in en and "OOM kills" in en[en.index("Maintenance memo"):]
    # Fixed on the spot, the problem leaves the memo for the maintenance record.
    records.record_fix(svc, data.runs["monthly-sep"], "db-01:logs.oom_kills", "应用进程被 OOM 终止 3 次",
                       "JVM 堆上限高于可用内存", "将 -Xmx 调整为 4g 并重启服务", "engineer-wang")
    after = builder.build("acme", Period.parse("2026-09"))
    assert isinstance(after, MonthlyReport)
    assert oom not in after.memo and len(after.memo) == len(before.memo) - 1
    assert not after.memo or "本次巡检没有遗留待跟进处理的问题。" not in render_html(after, "zh")
