"""Periods, locale formatting, SVG charts, the reports config section and the month arithmetic."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

import reports
from collector.reporting import usage as use
from collector.reporting.config import ReportsConfig
from collector.reporting.schedule import next_quarter_due
from reports import Locale, Period, PeriodError
from reports.charts import COLORS, PALETTE, SWATCHES, Series, bar_chart, projection, swatch_class, time_chart
from tests.reports.dataset import TZ, Dataset

BERLIN = ZoneInfo("Europe/Berlin")


def test_periods_parse_and_bound_in_the_customer_zone() -> None:
    assert str(Period.parse("2026-10")) == "2026-10" and str(Period.parse("2026-q3")) == "2026Q3"
    assert Period.parse(" 2026Q4 ", "quarterly") == Period("quarterly", 2026, 4)
    start, end = Period.parse("2026-10").bounds(TZ)
    assert start == datetime(2026, 9, 30, 16, tzinfo=UTC) and end == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert Period.parse("2026Q4").next() == Period("quarterly", 2027, 1)
    assert Period.parse("2026-01").previous() == Period("monthly", 2025, 12)
    assert [str(m) for m in Period.parse("2026Q3").months()] == ["2026-07", "2026-08", "2026-09"]
    assert Period.containing("quarterly", datetime(2026, 9, 30, 17, tzinfo=UTC), TZ) == Period("quarterly", 2026, 4)
    for bad, kind in (("2026-13", None), ("2026Q5", None), ("Oct 2026", None), ("2026Q3", "monthly"),
                      ("2026-10", "quarterly")):
        with pytest.raises(PeriodError, match=r"e\.g\."):
            Period.parse(bad, kind)  # type: ignore[arg-type]


def test_quarterly_due_times_follow_the_local_calendar() -> None:
    after = datetime(2026, 10, 2, tzinfo=TZ)
    assert next_quarter_due(after, TZ, 8, 0) == datetime(2027, 1, 1, 8, tzinfo=TZ)
    assert next_quarter_due(datetime(2027, 1, 1, 8, tzinfo=TZ), TZ, 8, 0) == datetime(2027, 4, 1, 8, tzinfo=TZ)
    # Daylight saving time moves the UTC moment, not the local one.
    due = next_quarter_due(datetime(2027, 2, 1, tzinfo=BERLIN), BERLIN, 8, 30)
    assert due == datetime(2027, 4, 1, 8, 30, tzinfo=BERLIN) and due.utcoffset() == timedelta(hours=2)


def test_locales_format_numbers_dates_and_durations() -> None:
    zh, en = Locale("zh", TZ), Locale("en", TZ)
    moment = datetime(2026, 9, 30, 16, 5, tzinfo=UTC)  # 1 October, 00:05 in Shanghai
    assert (zh.date(moment), en.date(moment)) == ("2026年10月1日", "1 Oct 2026")
    assert (zh.when(moment), en.when(moment)) == ("2026年10月1日 00:05", "1 Oct 2026, 00:05")
    assert (zh.period(Period.parse("2026Q3")), en.period(Period.parse("2026Q3"))) == ("2026年第三季度", "Q3 2026")
    assert (zh.period(Period.parse("2026-10")), en.period(Period.parse("2026-10"))) == ("2026年10月", "October 2026")
    assert (zh.duration(44100), en.duration(44100)) == ("12小时15分钟", "12 h 15 min")
    assert (zh.duration(90061), en.duration(0)) == ("1天1小时", "0 s")
    assert (en.number(1234.567), en.number(2208.0), en.percent(98.913043, 2)) == ("1,234.6", "2,208", "98.91%")
    assert (en.number(None), en.percent(float("nan")), en.measure(3.0, "count"), en.measure(26, "h")) == (
        "—", "—", "3", "26.0 h")
    assert (zh.term("clock", "respond"), en.term("state", "on_site"), zh.term("status", "odd")) == (
        "响应", "on site", "odd")
    assert zh.text({"zh": "磁盘", "en": "disk"}) == "磁盘" and zh.text({"en": "disk"}) == "disk"
    assert zh.band(91) == "良好" and en.band(60) == "at risk"
    with pytest.raises(KeyError, match=r"add it to reports/i18n\.py"):
        zh.t("no-such-text")


def test_charts_are_svg_with_escaped_labels_and_gaps() -> None:
    start = datetime(2026, 9, 1, tzinfo=TZ)
    points = [(start + timedelta(hours=6 * i), 10.0 + i) for i in range(8)]
    points += [(start + timedelta(days=5, hours=6 * i), 50.0) for i in range(4)]  # after a 3-day gap
    svg = time_chart([Series("<cpu> & co", "#123456", points)], start=start, end=start + timedelta(days=7), tz=TZ,
                     fmt_x=lambda d: f"{d.day}日")
    figure = ET.fromstring(str(svg))
    [root, legend] = figure
    assert figure.get("class") == "figure" and root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "2日" in texts and "100%" in texts
    # The legend is an HTML list under the chart, its swatch coloured by the stylesheet's class.
    assert legend.tag == "ul" and legend.get("class") == "legend"
    [key] = legend
    assert key.get("class") == "key-line" and "".join(key.itertext()) == "<cpu> & co"
    assert [sw.get("class") for sw in key] == ["sw c-text"]  # a colour the stylesheet does not name
    [path] = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("class") is None]  # not grid, axis
    assert path.get("d", "").count("M") == 2  # the gap splits the line
    bars = ET.fromstring(str(bar_chart([("硬件故障", 2.0), ("软件", 0.0)])))
    assert [r.get("width") for r in bars.iter("{http://www.w3.org/2000/svg}rect")][1] == "0.5"


def test_a_line_leaves_out_the_points_inside_its_straight_runs() -> None:
    """A flat stretch and a steady climb are drawn from their ends alone; every turn, a spike that
    goes back the way it came, and the line's ends stay."""
    start = datetime(2026, 9, 1, tzinfo=TZ)
    values = [40.0] * 6 + [45.0, 50.0, 55.0, 50.0, 50.0, 60.0, 50.0]
    points = [(start + timedelta(hours=6 * i), v) for i, v in enumerate(values)]
    # 20 steps of 6 hours over the 628 units of the plot: 31.4 units a step, 6.9 units per 5 %.
    svg = time_chart([Series("disk", "#2563eb", points)], start=start, end=start + timedelta(days=5), tz=TZ,
                     fmt_x=lambda d: f"{d.day}日", legend=False)
    [path] = [p for p in ET.fromstring(str(svg)).iter("{http://www.w3.org/2000/svg}path") if p.get("class") is None]
    drawn = [tuple(map(float, p.split(","))) for p in path.get("d", "").removeprefix("M").split(" L")]
    kept = [0, 5, 8, 9, 10, 11, 12]
    assert drawn == [(round(40 + 31.4 * i, 1), round(10 + (1 - values[i] / 100) * 138, 1)) for i in kept]


def test_projection_stops_at_the_limit() -> None:
    at = datetime(2026, 10, 1, tzinfo=UTC)
    assert projection(at, 90.0, 1.0, at + timedelta(days=30), 100.0) == [(at, 90.0), (at + timedelta(days=10), 100.0)]
    assert projection(at, 50.0, 1.0, at + timedelta(days=5), 100.0) == [(at, 50.0), (at + timedelta(days=5), 55.0)]


def test_reports_section_is_validated() -> None:
    cfg = ReportsConfig.model_validate({"formats": ["html"], "attach": ["pdf"], "customers": {"acme": {
        "recipients": ["it@acme.example"], "language": "en"}}})
    assert cfg.formats_with_attachments() == ["html", "pdf"] and cfg.quarterly.hour_minute == (8, 0)
    assert cfg.customer("acme").recipients == ["it@acme.example"] and cfg.customer("other").enabled
    for bad, where in (({"quarterly": {"at": "25:00"}}, "HH:MM"), ({"copy_to": ["nobody"]}, "not an e-mail"),
                       ({"formats": ["docx"]}, "formats"), ({"unknown": 1}, "unknown")):
        with pytest.raises(ValidationError, match=where):
            ReportsConfig.model_validate(bad)


def test_months_from_daily_buckets_equal_the_database_totals(dataset: Dataset) -> None:
    """The quarterly table adds daily buckets up to months; the per-month query must agree."""
    start, until = datetime(2026, 7, 1, tzinfo=TZ), datetime(2026, 10, 1, tzinfo=TZ)
    ids = ["db-01", "web-01"]
    daily = use.load_buckets(dataset.engine, ids, use.UTILISATION, start, until, 86400, 8 * 3600)
    for month in Period.parse("2026Q3").months():
        m0, m1 = month.bounds(TZ)
        stats = use.window_stats(dataset.engine, ids, use.UTILISATION, m0, m1)
        for host in ids:
            direct = use.month_usage(stats[host])
            summed = use.month_usage_from(daily[host], m0.timestamp(), m1.timestamp())
            assert summed == pytest.approx(direct), (host, month)


def test_a_band_within_one_day_shows_its_hours() -> None:
    zh, en = Locale("zh", TZ), Locale("en", TZ)
    a, b = datetime(2026, 12, 13, 1, 0, tzinfo=UTC), datetime(2026, 12, 13, 9, 30, tzinfo=UTC)
    assert zh.date_range(a, b) == "2026年12月13日 09:00–17:30"
    assert en.date_range(a, b) == "13 Dec 2026, 09:00–17:30"
    assert en.date_range(a, b + timedelta(days=2)) == "13 Dec 2026 – 15 Dec 2026"
    assert en.date_range(None, b) == "—"


def test_units_read_in_the_reports_language() -> None:
    zh, en = Locale("zh", TZ), Locale("en", TZ)
    assert zh.measure(2, "reboots") == "2 次" and en.measure(2, "reboots") == "2 reboots"
    assert zh.measure(1.5, "per core") == "1.5（每核）" and zh.measure(918, "attempts/h") == "918.0 次/小时"
    assert zh.measure(93.5, "%") == "93.5%" and zh.measure(3, "count") == "3"


def test_time_ticks_name_the_month_once() -> None:
    start = datetime(2026, 9, 20, tzinfo=TZ)
    # Ticks every two days: 20, 22 … 30 September, then 2, 4 … October.
    for lang, first, later, next_month, after in (("zh", "9月20日", "22日", "10月2日", "4日"),
                                                  ("en", "20 Sep", "22", "2 Oct", "4")):
        loc = Locale(lang, TZ)  # type: ignore[arg-type]
        svg = time_chart([Series("cpu", "#2563eb", [(start, 10.0)])], start=start, end=start + timedelta(days=14),
                         tz=TZ, fmt_x=loc.short_date, fmt_day=loc.day_of_month)
        [root, _] = ET.fromstring(str(svg))
        ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("y") == "163"]
        assert ticks[:2] == [first, later] and next_month in ticks, ticks
        assert ticks[ticks.index(next_month) + 1] == after


def test_every_chart_colour_has_its_legend_swatch_in_the_stylesheet() -> None:
    css = (Path(reports.__file__).parent / "templates" / "report.css").read_text()
    legend_colors = {*PALETTE, *(COLORS[k] for k in ("cpu", "mem", "disk", "score", "forecast", "limit", "band",
                                                    "axis", "text"))}
    for color in legend_colors:
        assert color in SWATCHES, color
        name = swatch_class(color)
        rgb = ",".join(str(int(color[i:i + 2], 16)) for i in (1, 3, 5))
        assert f".sw.{name} {{ color: {color}; }}" in css, color
        assert f".key-envelope .sw.{name} {{ background: rgba({rgb},0.25); }}" in css, color


def test_tick_labels_at_the_edges_stay_inside_the_chart() -> None:
    start = datetime(2026, 10, 1, tzinfo=TZ)
    svg = time_chart([Series("cpu", "#123456", [(start, 10.0)])], start=start, end=start + timedelta(days=28),
                     tz=TZ, fmt_x=lambda d: f"{d.month}月{d.day}日")
    [root, _] = ET.fromstring(str(svg))
    width = float(root.get("width", 0))
    ticks = [t for t in root.iter("{http://www.w3.org/2000/svg}text") if "月" in (t.text or "")]
    assert ticks
    for t in ticks:
        x, half = float(t.get("x", 0)), len(t.text or "") * 10 / 2
        anchor = t.get("text-anchor")
        left, right = {"start": (x, x + 2 * half), "end": (x - 2 * half, x)}.get(anchor or "", (x - half, x + half))
        assert left >= 0 and right <= width, (t.text, anchor, x, width)
    assert ticks[-1].text == "10月29日" and ticks[-1].get("text-anchor") == "end"  # the tick on the right edge
