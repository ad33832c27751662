"""The quarterly's long tables: every fact of a device, a ticket and an open risk, in as few table cells
and lines as read well (each is a layout of its own in the PDF)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from reports import Locale, QuarterlyReport, render_html
from reports.model import Availability, ClockResult, HostRef, OpenRisk, TicketRow

XHTML = "{http://www.w3.org/1999/xhtml}"


def _text(element: ET.Element) -> str:
    return " ".join(t.strip() for t in element.itertext() if t.strip())


def _root(report: QuarterlyReport, lang: str) -> ET.Element:
    return ET.fromstring(render_html(report, lang))  # type: ignore[arg-type]


def _table(root: ET.Element, kind: str) -> ET.Element | None:
    return next((t for t in root.iter(f"{XHTML}table") if t.get("class") == f"data {kind}"), None)


def _body_rows(table: ET.Element) -> list[list[ET.Element]]:
    return [list(tr) for tr in table.iter(f"{XHTML}tr") if tr.find(f"{XHTML}td") is not None]


def _section(root: ET.Element, part: str) -> ET.Element:
    found = next((s for s in root.iter(f"{XHTML}section") if s.get("id") == part), None)
    assert found is not None, part
    return found


def _host(i: int) -> HostRef:
    return HostRef(f"id-{i}", f"node-{i:02d}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_devices_never_down_are_named_in_a_sentence_per_time_judged(quarterly: QuarterlyReport, lang: str) -> None:
    rows = (Availability(_host(0), 100.0, 0.0, 2208), Availability(_host(1), 98.91, 24.0, 2208),
            Availability(_host(2), 100.0, 0.0, 2208), Availability(_host(3), 100.0, 0.0, 1000),
            Availability(_host(4), None, 0.0, 0), Availability(_host(5), 99.95, 1.1, 2208))
    report = replace(quarterly, running=replace(quarterly.running, availability=rows))
    root = _root(report, lang)
    table = _table(root, "availability")
    assert table is not None
    # The table: the devices with downtime, and the one nothing was judged for, with every figure.
    assert [[_text(td) for td in tr] for tr in _body_rows(table)] == [
        ["node-01", "98.91%", "24.0", "2,208"], ["node-04", "—", "0.0", "0"], ["node-05", "99.95%", "1.1", "2,208"]]
    sentences = [_text(p) for p in _section(root, "part1").iter(f"{XHTML}p") if p.get("class") == "ok-items"]
    if lang == "zh":
        assert sentences == ["无停机、可用率 100.00% 的设备（统计 2,208 小时，共 2 台）：node-00，node-02。",
                             "无停机、可用率 100.00% 的设备（统计 1,000 小时，共 1 台）：node-03。"]
    else:
        assert sentences == ["Never down, availability 100.00% over 2,208 hours judged (2 in all): node-00, node-02.",
                             "Never down, availability 100.00% over 1,000 hours judged (1 in all): node-03."]
    # Every device is named once in the part.
    part = _text(_section(root, "part1"))
    assert all(part.count(f"node-{i:02d}") == 1 for i in range(6))


def test_without_downtime_there_is_no_availability_table(quarterly: QuarterlyReport) -> None:
    rows = tuple(Availability(_host(i), 100.0, 0.0, 2208) for i in range(3))
    root = _root(replace(quarterly, running=replace(quarterly.running, availability=rows)), "zh")
    assert _table(root, "availability") is None
    assert "（统计 2,208 小时，共 3 台）：node-00，node-01，node-02。" in _text(_section(root, "part1"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_ticket_row_has_its_number_title_host_level_state_dates_and_clocks(quarterly: QuarterlyReport,
                                                                             lang: str) -> None:
    tickets = quarterly.service.ticket_rows
    assert tickets
    loc = Locale(lang, ZoneInfo(quarterly.header.timezone))  # type: ignore[arg-type]
    table = _table(_root(quarterly, lang), "tickets")
    assert table is not None
    rows = _body_rows(table)
    assert len(rows) == len(tickets)
    for t, cells in zip(tickets, rows, strict=True):
        assert len(cells) == 5
        first = _text(cells[0])
        assert first.startswith(f"#{t.id} {t.title}")
        if t.host is not None:
            assert first.endswith(f"{t.host.hostname} · {loc.term('source', t.source)}")
        assert _text(cells[1]) == f"{loc.term('ticket_severity', t.severity)} · {loc.term('state', t.state)}"
        assert [_text(c) for c in cells[2:4]] == [loc.when(t.created_at), loc.when(t.resolved_at)]
        shown = [f"{loc.term('clock', c.clock)} {loc.term('outcome', c.outcome)}" for c in t.clocks
                 if c.outcome != "untracked"]
        assert _text(cells[4]) == (" ".join(shown) or "—")


def _clock(clock: str, outcome: str) -> ClockResult:
    return ClockResult(clock, 3600.0, 60.0, outcome)  # type: ignore[arg-type]


def test_sla_clocks_carry_their_outcome_colour_on_the_cell_or_on_each_line(quarterly: QuarterlyReport) -> None:
    start = quarterly.header.period_start + timedelta(days=3)
    base = TicketRow(1, "磁盘告警", "L2", "resolved", "manual", _host(7), start, start + timedelta(hours=5), None,
                     None, (), True, True)
    rows = (replace(base, id=1, clocks=(_clock("respond", "met"), _clock("restore", "met"))),
            replace(base, id=2, clocks=(_clock("respond", "met"), _clock("restore", "breached"),
                                        _clock("resolve", "untracked"))),
            replace(base, id=3, clocks=(_clock("resolve", "untracked"),), host=None))
    report = replace(quarterly, service=replace(quarterly.service, ticket_rows=rows))
    table = _table(_root(report, "zh"), "tickets")
    assert table is not None
    same, mixed, untracked = (cells[4] for cells in _body_rows(table))
    assert same.get("class") == "small oc-met" and _text(same) == "响应 达标 恢复 达标"
    assert all(el.get("class") is None for el in same.iter(f"{XHTML}div"))
    assert mixed.get("class") == "small"
    assert [(d.get("class"), _text(d)) for d in mixed.iter(f"{XHTML}div")] == [("oc-met", "响应 达标"),
                                                                              ("oc-breached", "恢复 超时")]
    assert _text(untracked) == "—"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_open_risks_name_each_device_once_and_a_check_found_on_many_devices_in_one_row(
        quarterly: QuarterlyReport, lang: str) -> None:
    since = quarterly.header.period_end - timedelta(days=2)
    cpu = {"zh": "CPU 使用率", "en": "CPU utilisation"}
    risks = (OpenRisk("ticket", _host(1), "node-01 /data 空间不足", "L3", since, ticket_id=17),
             OpenRisk("ticket", _host(5), "应用无响应", "L3", since, ticket_id=19),
             OpenRisk("finding", _host(2), cpu, "critical", since),
             OpenRisk("finding", _host(4), {"zh": "可用内存", "en": "Available memory"}, "critical", since),
             OpenRisk("finding", _host(3), cpu, "critical", since),
             OpenRisk("finding", _host(6), cpu, "warning", since),
             OpenRisk("ticket", None, "核心交换机故障", "L1", since, ticket_id=18))
    report = replace(quarterly, next_steps=replace(quarterly.next_steps, open_risks=risks))
    table = _table(_root(report, lang), "risks")
    assert table is not None
    rows = _body_rows(table)
    loc = Locale(lang, ZoneInfo(quarterly.header.timezone))  # type: ignore[arg-type]
    sep = loc.t("list_sep")
    assert [_text(cells[1]) for cells in rows] == [
        "node-01 /data 空间不足", "应用无响应 · node-05", f"{loc.text(cpu)} · node-02{sep}node-03",
        f"{loc.text(risks[3].title)} · node-04", f"{loc.text(cpu)} · node-06", "核心交换机故障"]
    ticket, finding = loc.t("kind_ticket"), loc.t("kind_finding")
    assert [_text(cells[0]) for cells in rows] == [f"{ticket} #17", f"{ticket} #19", finding, finding, finding,
                                                   f"{ticket} #18"]
    # A finding's status is its cell's own text, coloured by its class.
    critical = ("st-cell st-critical", loc.term("status", "critical"))
    warning = ("st-cell st-warning", loc.term("status", "warning"))
    assert [(cells[2].get("class"), _text(cells[2])) for cells in rows[2:5]] == [critical, critical, warning]
    assert [_text(cells[3]) for cells in rows] == [loc.date(since)] * 6


def test_findings_of_one_check_found_at_different_times_stay_apart(quarterly: QuarterlyReport) -> None:
    since = quarterly.header.period_end - timedelta(days=2)
    title = {"zh": "CPU 使用率", "en": "CPU utilisation"}
    risks = (OpenRisk("finding", _host(1), title, "warning", since),
             OpenRisk("finding", _host(2), title, "warning", since - timedelta(days=30)),
             OpenRisk("finding", _host(3), title, "warning", since))
    rows = replace(quarterly.next_steps, open_risks=risks).risk_rows()
    assert [(row.first.since, [h.hostname for h in row.hosts]) for row in rows] == [
        (since, ["node-01", "node-03"]), (since - timedelta(days=30), ["node-02"])]
