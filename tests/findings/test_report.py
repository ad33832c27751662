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
