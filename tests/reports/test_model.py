"""Report models against numbers worked out by hand from the fixed dataset (see dataset.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from collector.reporting.builder import ReportBuilder, ReportRequestError
from collector.reporting.config import ReportsConfig
from collector.reporting.ticket_stats import grouped_measures
from collector.tickets.model import Closure
from reports import MonthlyReport, Period, QuarterlyReport
from tests.reports.conftest import RETENTION
from tests.reports.dataset import DISK_GROWTH, NOW, Q_END, Q_START, TZ, Dataset, FakeClock

HOUR = 3600.0


def by_host(items: tuple, attr: str = "host") -> dict:  # type: ignore[type-arg]
    return {getattr(i, attr).hostname: i for i in items}


# -- monthly (September 2026) --------------------------------------------------------------------


def test_monthly_header_and_summary(monthly: MonthlyReport) -> None:
    h = monthly.header
    assert (h.customer_name, h.timezone, str(h.period), h.hosts) == (
        "艾克米科技有限公司", "Asia/Shanghai", "2026-09", 2)
    assert h.period_start == datetime(2026, 9, 1, tzinfo=TZ) and h.period_end == Q_END
    assert not h.partial
    assert monthly.inspection is not None and monthly.inspection.profile == "monthly"
    assert (monthly.score, monthly.previous_score, monthly.score_delta) == (71, 80, -9)
    # The September monthly run (window end 1 Oct 02:00) and the 15 September daily run cover September.
    # One point per month's monthly inspection, the months before September too: August's, then September's.
    assert [(p.score, p.profile) for p in monthly.score_trend] == [(80, "monthly"), (71, "monthly")]
    c = monthly.counts
    assert (c.ok, c.warning, c.critical, c.unknown) == (2, 1, 1, 1)


def test_monthly_checks_findings_checklist(monthly: MonthlyReport) -> None:
    hosts = by_host(monthly.hosts)
    assert list(hosts) == ["db-01", "web-01"]
    assert hosts["db-01"].score == 45 and hosts["db-01"].status == "critical"
    assert [g.category for g in hosts["db-01"].groups] == ["resources", "system_logs", "data_security"]
    assert [(r.check_id, r.subject, r.status, r.observed) for r in hosts["web-01"].groups[0].rows] == [
        ("resources.cpu_busy", "", "ok", 40.0), ("resources.disk_space", "/", "ok", 40.0)]
    # Worst first: the critical finding, then the warning; the unknown one apart, with its reason.
    assert [(f.check_id, f.status) for f in monthly.findings] == [("logs.oom_kills", "critical"),
                                                                 ("resources.disk_space", "warning")]
    assert [str(s) for s in monthly.findings[1].evidence.series] == ["disk.used_percent{mount=/data}"]
    assert monthly.findings[1].recommendation["zh"].startswith("找出占用空间最大的目录")
    assert [(f.check_id, f.unknown_reason) for f in monthly.unknowns] == [
        ("security.backup_freshness", "no backup probe configured")]
    assert [(r.status, r.host.hostname) for r in monthly.top_risks] == [("critical", "db-01"), ("warning", "db-01")]
    filled = {c.item_id: (c.result, c.remark, c.checked_by) for c in monthly.checklist if c.result}
    assert filled == {"manual.device_appearance": ("ok", "外观正常", "engineer-wang"),
                      "manual.screen": ("issue", "屏幕偏暗", "engineer-wang")}
    assert len(monthly.checklist) == 12


def test_monthly_tickets_and_sla(monthly: MonthlyReport, dataset: Dataset) -> None:
    t4, t5 = dataset.tickets["T4"].id, dataset.tickets["T5"].id
    assert [t.id for t in monthly.tickets] == [t4, t5]
    row4, row5 = monthly.tickets
    assert row4.state == "resolved" and row4.resolved_at == datetime(2026, 9, 10, 16, tzinfo=TZ)
    assert {c.clock: c.outcome for c in row4.clocks} == {"respond": "met", "restore": "met", "resolve": "untracked"}
    assert row4.clock("respond").elapsed_s == HOUR  # type: ignore[union-attr]
    # T5 was never acknowledged: at the end of September (63 h in) both targets (12 h, 24 h) are gone.
    assert row5.state == "registered" and row5.resolved_at is None
    assert {c.clock: c.outcome for c in row5.clocks} == {"respond": "breached", "restore": "breached",
                                                          "resolve": "untracked"}
    assert row5.clock("respond").elapsed_s == 63 * HOUR  # type: ignore[union-attr]
    s = monthly.ticket_summary
    assert (s.opened, s.resolved, s.open_at_end, s.clocks_met, s.clocks_breached) == (2, 1, 1, 2, 2)
    assert s.compliance_pct == 50.0


def test_monthly_forecast_and_charts(monthly: MonthlyReport) -> None:
    # db-01:/data grows 0.4 %/day from 50 % on 1 July: 86.8 % at the end of September, 100 % 33 days later.
    [fc] = monthly.forecasts
    assert (fc.hostname, fc.series, fc.subject, fc.limit) == ("db-01", "disk.used_percent", "/data", 100.0)
    assert fc.slope_per_day == pytest.approx(DISK_GROWTH, rel=1e-3)
    assert fc.level == pytest.approx(50 + DISK_GROWTH * 92, abs=0.05)
    expected = Q_END + timedelta(days=(100 - (50 + DISK_GROWTH * 92)) / DISK_GROWTH)
    assert fc.eta is not None and abs((fc.eta - expected).total_seconds()) < 6 * HOUR
    assert fc.eta_low is not None and fc.eta_high is not None and fc.eta_low <= fc.eta <= fc.eta_high
    charts = by_host(monthly.utilisation)
    web = {line.key: line for line in charts["web-01"].lines}
    assert {v for _, v in web["cpu"].points} == {40.0}  # September only: never July's 20 or October's 99
    assert {v for _, v in web["mem"].points} == {50.0}
    assert len(web["cpu"].points) == 30 * 4  # six-hour points over 30 days
    disks = {(d.host.hostname, m.mount): m for d in monthly.disks for m in d.mounts}
    assert set(disks) == {("db-01", "/"), ("db-01", "/data"), ("web-01", "/")}
    assert disks[("db-01", "/data")].forecast is fc
    assert max(v for _, v in disks[("db-01", "/data")].history) == pytest.approx(50 + DISK_GROWTH * (92 - 0.25 / 24))
    # The minimum per bucket beside the maximum: the growing mount's bucket starts lower than it ends.
    data = disks[("db-01", "/data")]
    assert [t for t, _ in data.low] == [t for t, _ in data.history]
    assert all(lo < hi for (_, lo), (_, hi) in zip(data.low, data.history, strict=True))
    assert 0 < data.history[0][1] - data.low[0][1] < DISK_GROWTH * 6 / 24  # less than six hours' growth
    assert {v for _, v in disks[("web-01", "/")].low} == {40.0}


def test_monthly_next_steps(monthly: MonthlyReport, dataset: Dataset) -> None:
    """What the provider will do after September: act before /data fills, follow the inspection's advice
    (the critical finding first), and see the open ticket T5 through."""
    nx = monthly.next_steps
    assert nx is not None and nx.horizon_end == Q_END + timedelta(days=monthly.forecast_horizon_days)
    assert [(f.hostname, f.subject) for f in nx.forecasts] == [("db-01", "/data")]
    assert [(r.kind, r.ticket_id) for r in nx.open_risks] == [("ticket", dataset.tickets["T5"].id)]
    assert [(r.kind, r.priority) for r in nx.recommendations] == [
        ("capacity", 1), ("finding", 3), ("finding", 4), ("open_tickets", 7)]
    capacity, critical, warning, tickets = nx.recommendations
    assert capacity.params["eta"] == monthly.forecasts[0].eta
    assert critical.params["name"]["en"] == "OOM kills" and critical.text is not None
    assert warning.params["hosts"] == 1 and warning.text == monthly.findings[1].recommendation
    assert tickets.params == {"count": 1}
    assert nx.headline(2, 1) == (capacity, critical)


# -- quarterly (2026 Q3) -------------------------------------------------------------------------


def test_quarterly_running_status(quarterly: QuarterlyReport) -> None:
    run = quarterly.running
    av = by_host(run.availability)
    # 92 days = 2208 hours; db-01 sent nothing for the 24 hours of 10 August.
    assert (av["web-01"].availability_pct, av["web-01"].down_hours, av["web-01"].hours) == (100.0, 0.0, 2208)
    assert av["db-01"].availability_pct == pytest.approx(100 * 2184 / 2208)
    assert (av["db-01"].down_hours, av["db-01"].hours) == (24.0, 2208)
    assert run.fleet_availability_pct == pytest.approx((100 + 100 * 2184 / 2208) / 2)
    trends = {t.host.hostname: [(m.cpu_avg, m.cpu_peak, m.mem_avg, m.disk_peak) for m in t.months]
              for t in run.trends}
    assert trends["web-01"] == [(20.0, 20.0, 50.0, 40.0), (30.0, 30.0, 50.0, 40.0), (40.0, 40.0, 50.0, 40.0)]
    # The last sample of each month (23:45 on its last day) is the fullest /data got in that month.
    last_days = (30 + 23.75 / 24, 61 + 23.75 / 24, 91 + 23.75 / 24)
    assert [d for *_, d in trends["db-01"]] == pytest.approx([50 + DISK_GROWTH * d for d in last_days])
    assert [c for c, *_ in trends["db-01"]] == [50.0, 50.0, 50.0]
    # In the order of their windows' ends: 10 Jul, 20 Aug, 1 Sep 02:00, 15 Sep, 1 Oct 02:00.
    assert [(p.score, p.profile) for p in run.score_trend] == [(90, "daily"), (85, "daily"), (80, "monthly"),
                                                               (75, "daily"), (71, "monthly")]
    assert [(str(m), s) for m, s in run.monthly_scores] == [("2026-07", 90.0), ("2026-08", 82.5), ("2026-09", 73.0)]
    cpu = {line.key: line for line in run.fleet_lines}["cpu"]
    assert cpu.points[0] == (Q_START, 35.0)  # first local day: mean of 20 and 50
    assert datetime(2026, 8, 10, tzinfo=TZ) not in dict(cpu.points)  # half the fleet was silent that day


def test_quarterly_fault_analysis(quarterly: QuarterlyReport, dataset: Dataset) -> None:
    fa = quarterly.faults
    assert fa.tickets == 5 and fa.resolved == 4
    assert {b.key: b.count for b in fa.by_type} == {"hardware": 2, "software": 1, "network": 1, "unclassified": 1}
    assert {b.key: b.count for b in fa.by_cause} == {"hardware_problem": 2, "software_defect": 1, "config_error": 1,
                                                     "unclassified": 1}
    assert [(b.key, b.count) for b in fa.by_severity] == [("L1", 1), ("L2", 1), ("L3", 3), ("L4", 0)]
    assert {b.key: b.count for b in fa.by_source} == {"manual": 3, "inspection": 2}
    [repeat] = fa.repeats
    assert (repeat.ticket_id, repeat.previous_id) == (dataset.tickets["T3"].id, dataset.tickets["T2"].id)
    assert repeat.days_between == pytest.approx(18 + 14 / 24)  # T2 resolved 19:00 1 Aug, T3 09:00 20 Aug
    assert fa.repeat_rate_pct == 20.0
    assert fa.mttr_s == (3 + 10 + 30 + 6) / 4 * HOUR
    assert [(s.severity, s.resolved, s.mean_s) for s in fa.mttr_by_severity] == [
        ("L1", 1, 3 * HOUR), ("L2", 1, 6 * HOUR), ("L3", 2, 20 * HOUR)]
    # The four resolved tickets recorded the same measures: one entry of four tickets.
    [measure] = fa.measures
    assert measure.ticket_ids == tuple(dataset.tickets[t].id for t in ("T1", "T2", "T3", "T4"))
    assert measure.titles == tuple(dict.fromkeys(dataset.tickets[t].title for t in ("T1", "T2", "T3", "T4")))
    assert (measure.cause, measure.solution, measure.short_term) == ("根因", "方案", "临时")


def test_quarterly_service_situation(quarterly: QuarterlyReport) -> None:
    sv = quarterly.service
    sla = {s.clock: (s.met, s.breached, s.running, s.not_applicable, s.compliance_pct) for s in sv.sla}
    # respond: T1 0.5 h, T2 2 h, T4 1 h met; T3 14 h (target 12 h) and T5 (never) breached. Same for restore.
    assert sla == {"respond": (3, 2, 0, 0, 60.0), "restore": (3, 2, 0, 0, 60.0)}
    times = {d.clock: d for d in sv.times}
    respond = sorted([0.5, 2, 14, 1])
    assert times["respond"].count == 4
    assert times["respond"].mean_s == pytest.approx(sum(respond) / 4 * HOUR)
    assert times["respond"].median_s == pytest.approx(1.5 * HOUR)
    assert times["respond"].p90_s == pytest.approx((2 + 0.7 * (14 - 2)) * HOUR)  # linear between 3rd and 4th
    assert times["respond"].max_s == 14 * HOUR
    assert times["resolve"].mean_s == pytest.approx(12.25 * HOUR) and times["resolve"].median_s == 8 * HOUR
    sat = sv.satisfaction
    assert sat.ratings == 3
    assert sat.overall_pct == pytest.approx((100 + (80 + 80 + 60) / 3 + (100 + 80 + 80) / 3) / 3)
    assert (sat.attitude_pct, sat.quality_pct, sat.resolution_pct) == pytest.approx((280 / 3, 260 / 3, 80.0))
    assert sat.met is True  # 86.7 % > 85 %


def test_quarterly_next_steps(quarterly: QuarterlyReport, dataset: Dataset) -> None:
    nx = quarterly.next_steps
    assert nx.horizon_end == datetime(2027, 1, 1, tzinfo=TZ)
    assert [(f.hostname, f.subject) for f in nx.forecasts] == [("db-01", "/data")]
    assert [(r.kind, r.level, r.ticket_id) for r in nx.open_risks] == [
        ("ticket", "L3", dataset.tickets["T5"].id), ("finding", "critical", None), ("finding", "warning", None)]
    kinds = [r.kind for r in nx.recommendations]
    assert kinds == ["capacity", "repeat", "finding", "availability", "sla", "sla"]
    assert nx.recommendations[3].params["hours"] == 24.0
    assert {r.params["clock"] for r in nx.recommendations if r.kind == "sla"} == {"respond", "restore"}


# -- regeneration and periods --------------------------------------------------------------------


def test_regenerating_later_gives_the_same_numbers(dataset: Dataset, quarterly: QuarterlyReport) -> None:
    """Months later (new data, T5 resolved in October) the quarter still reads as it stood at its end."""
    from collector.tickets.service import TicketService

    clock = FakeClock(NOW + timedelta(days=40))
    svc = TicketService(dataset.engine, dataset.tickets_cfg, {c.id: c for c in dataset.cfg.customers}, clock)
    t5 = dataset.tickets["T5"].id
    try:
        svc.ack(t5, "engineer-li")
        svc.resolve(t5, "engineer-li")
        later = ReportBuilder(dataset.engine, RETENTION, dataset.tickets_cfg, ReportsConfig(), clock)
        again = later.build("acme", Period.parse("2026Q3"))
        assert isinstance(again, QuarterlyReport)
        assert again.faults == quarterly.faults
        assert again.service.sla == quarterly.service.sla
        assert again.next_steps.open_risks == quarterly.next_steps.open_risks
        assert again.running.availability == quarterly.running.availability
    finally:
        # Put T5 back as the other tests expect it (the timeline keeps the detour, after the quarter).
        svc.reopen(t5, "engineer-li", "test cleanup")


def test_running_period_is_partial_and_future_periods_are_refused(dataset: Dataset) -> None:
    b = ReportBuilder(dataset.engine, RETENTION, dataset.tickets_cfg, ReportsConfig(), dataset.clock)
    october = b.build("acme", Period.parse("2026-10"))
    assert isinstance(october, MonthlyReport)
    assert october.header.partial and october.header.data_until == NOW
    assert october.inspection is None and october.score is None and october.counts.total == 0
    # Without an inspection the plan is to carry one out, never "the devices ran steadily".
    assert october.next_steps is not None
    kinds = [r.kind for r in october.next_steps.recommendations]
    assert "inspect" in kinds and "keep" not in kinds
    assert {v for u in october.utilisation for line in u.lines if line.key == "cpu" for _, v in line.points} == {99.0}
    with pytest.raises(ReportRequestError, match="has not begun"):
        b.build("acme", Period.parse("2026-11"))
    with pytest.raises(ReportRequestError, match="unknown customer 'nobody'"):
        b.build("nobody", Period.parse("2026-09"))
    with pytest.raises(ReportRequestError, match="not a quarter"):
        b.quarterly("acme", Period.parse("2026-09"))


def test_tickets_resolved_with_the_same_measures_share_one_entry_most_frequent_first() -> None:
    disk = Closure(cause="日志占满 /data", solution="清理过期日志", prevention="配置日志轮转")
    raid = Closure(cause="RAID 电池老化", solution="更换电池", prevention="按季度检查电池", long_term="纳入备件计划")
    closed = [
        (7, "db-01 /data 空间不足", disk),
        (3, "RAID 降级", raid),
        (9, "db-02 /data 空间不足", Closure(cause="日志占满  /data", solution=" 清理过期日志\n",
                                          prevention="配置日志轮转")),
        (12, "db-01 /data 空间不足", disk),
        (5, "RAID 降级", raid),
        (4, "网卡错包", Closure(cause="光模块松动", solution="重新插拔", prevention="巡检时检查")),
    ]
    measures = grouped_measures(closed)
    assert [m.ticket_ids for m in measures] == [(7, 9, 12), (3, 5), (4,)]
    assert measures[0].titles == ("db-01 /data 空间不足", "db-02 /data 空间不足")  # distinct, in ticket order
    assert (measures[0].cause, measures[0].solution) == ("日志占满 /data", "清理过期日志")
    assert measures[1].titles == ("RAID 降级",) and measures[1].long_term == "纳入备件计划"
    assert grouped_measures([]) == ()


def test_the_quarterly_lists_grouped_measures_with_their_tickets(quarterly: QuarterlyReport) -> None:
    from reports import render_html

    [measure] = quarterly.faults.measures
    for lang, count in (("zh", "共 4 张"), ("en", "4 tickets")):
        html = render_html(quarterly, lang)
        table = html[html.index('<table class="data measures">'):]
        table = table[:table.index("</table>")]
        assert table.count("<tr>") == 2 and count in table  # the header and the one entry
        assert " ".join(f"#{i}" for i in measure.ticket_ids) in table
