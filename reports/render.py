"""Rendering a report model to self-contained HTML (Jinja2) and to PDF (WeasyPrint).

The HTML is one file: CSS inline, charts as inline SVG, no scripts, nothing fetched. It is also
well-formed XML (XHTML syntax), so any XML tool can read it. The PDF is the same HTML laid out on A4
pages with page numbers, a table of contents with page references and PDF bookmarks (by
:mod:`reports.pdf`); WeasyPrint fetches nothing either (every URL is refused), so a report can
never leak a request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import cache
from html import unescape
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from reports import charts
from reports.checks import overview
from reports.fonts import require_cjk_font, uncovered
from reports.i18n import QUARTERLY_HEADINGS, Lang, Locale
from reports.model import (
    Breakdown,
    DiskChart,
    Line,
    MonthlyReport,
    QuarterlyReport,
    Report,
    ScorePoint,
    UtilisationChart,
)
from reports.periods import Period

TEMPLATES = Path(__file__).resolve().parent / "templates"
Format = Literal["html", "pdf"]
FORMATS: tuple[Format, ...] = ("html", "pdf")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


class RenderError(RuntimeError):
    """A report cannot be rendered (a missing font, a glyph no font has); the message says what to do."""


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env


def _lang_tag(lang: Lang) -> str:
    return "zh-CN" if lang == "zh" else "en"


def _counter_content(template: str) -> str:
    """A CSS ``content`` value for "page {page} of {pages}" in the locale's words."""
    out: list[str] = []
    rest = template
    while rest:
        head, brace, tail = rest.partition("{")
        if head:
            out.append('"' + head.replace("\\", "\\\\").replace('"', '\\"') + '"')
        if not brace:
            break
        name, _, rest = tail.partition("}")
        out.append(f"counter({name})")
    return " ".join(out)


class HtmlLocale(Locale):
    """A :class:`Locale` whose sentences are markup: parameters are escaped unless already markup
    (a rendered macro), so nothing is escaped twice."""

    def t(self, key: str, **params: Any) -> str:
        template = super().t(key)
        return escape(template).format(**params) if params else escape(template)


# The percentage charts' headings name their unit ("资源利用率（%）"), so their y ticks are bare numbers.
PERCENT_IN_HEADING = ""


class ChartView:
    """Chart helpers for the templates: model parts in, inline SVG out, labelled in the locale."""

    def __init__(self, loc: Locale, start: datetime, end: datetime) -> None:
        self.loc = loc
        self.start = start
        self.end = end

    def _fmt_x(self) -> Callable[[datetime], str]:
        return self.loc.short_date

    def _legend(self, line: Line) -> str:
        if line.label:
            return line.label
        return self.loc.t(f"legend_{line.key}") if f"legend_{line.key}" in self.loc.strings else line.key

    def lines(self, lines: tuple[Line, ...], y_max: float | None = 100.0) -> Markup:
        series = [charts.Series(self._legend(ln), charts.color_of(ln.key, i), ln.points, lows=ln.lows)
                  for i, ln in enumerate(lines)]
        return charts.time_chart(series, start=self.start, end=self.end, tz=self.loc.tz, fmt_x=self._fmt_x(),
                                 fmt_day=self.loc.day_of_month, y_max=y_max, y_suffix=PERCENT_IN_HEADING)

    def utilisation(self, chart: UtilisationChart) -> Markup:
        return self.lines(chart.lines)

    def scores(self, points: tuple[ScorePoint, ...]) -> Markup:
        """Health scores over time; the chart starts at the earliest point (a monthly report shows the
        months before it too), a few days before it so the first marker is not on the axis."""
        series = [charts.Series(self.loc.t("legend_score"), charts.COLORS["score"],
                                [(p.at, float(p.score)) for p in points], markers=True)]
        start = min([self.start, *(p.at - timedelta(days=5) for p in points)])
        end = max([self.end, *(p.at for p in points)])
        return charts.time_chart(series, start=start, end=end, tz=self.loc.tz, fmt_x=self._fmt_x(),
                                 fmt_day=self.loc.day_of_month, y_max=100.0, y_suffix="", height=140)

    def disk(self, chart: DiskChart, horizon_days: int) -> Markup:
        """Every mount's history in its colour; where the forecaster expects a mount to reach its limit
        within the horizon, its trend (dashed) with the band. A mount that grows and shrinks again (a
        log partition's daily rotation) has no crossing and gets no line."""
        loc = self.loc
        growing = {m.mount: m.forecast for m in chart.mounts
                   if m.forecast is not None and m.forecast.level is not None
                   and m.forecast.slope_per_day is not None and m.forecast.slope_per_day > 0
                   and m.forecast.eta is not None
                   and m.forecast.eta - m.forecast.at <= timedelta(days=horizon_days)}
        end = self.end
        for grows in growing.values():
            assert grows is not None
            target = grows.eta_high or grows.eta or grows.at + timedelta(days=horizon_days)
            end = max(end, min(target + timedelta(days=2), grows.at + timedelta(days=horizon_days)))
        series: list[charts.Series] = []
        bands: list[charts.Band] = []
        vlines: list[charts.VLine] = []
        for i, m in enumerate(chart.mounts):
            color = charts.PALETTE[i % len(charts.PALETTE)]
            series.append(charts.Series(m.mount, color, m.history, lows=m.low))
            fc = growing.get(m.mount)
            if fc is None or fc.level is None or fc.slope_per_day is None:
                continue
            series.append(charts.Series("", color, charts.projection(fc.at, fc.level, fc.slope_per_day, end,
                                                                     chart.limit), dashed=True))
            if fc.eta_low is not None and fc.eta_high is not None and fc.eta is not None:
                steep = (chart.limit - fc.level) / max((fc.eta_low - fc.at).total_seconds() / 86400, 1e-6)
                shallow = (chart.limit - fc.level) / max((fc.eta_high - fc.at).total_seconds() / 86400, 1e-6)
                bands.append(_band("" if bands else loc.t("legend_band"), fc.at, fc.level, steep, shallow, end,
                                   chart.limit, color))
            if fc.eta is not None and fc.eta <= end:
                vlines.append(charts.VLine(fc.eta, f"{m.mount} {loc.short_date(fc.eta)}", color))
        if growing:
            series.append(charts.Series(loc.t("legend_forecast"), charts.COLORS["axis"], (), dashed=True))
        hlines = [charts.HLine(chart.limit, loc.t("legend_limit"), charts.COLORS["limit"])]
        return charts.time_chart(series, start=self.start, end=end, tz=loc.tz, fmt_x=self._fmt_x(),
                                 fmt_day=loc.day_of_month, y_max=chart.limit, bands=bands, hlines=hlines,
                                 vlines=vlines, height=150, y_suffix=PERCENT_IN_HEADING)

    def score_bars(self, scores: tuple[tuple[Period, float | None], ...]) -> Markup:
        """The average health score of each quarter, one bar per quarter (none where nothing was inspected)."""
        return charts.bar_chart([(self.loc.period(p), float(v) if v is not None else 0.0) for p, v in scores],
                                width=330, fmt=lambda v: self.loc.number(v, 0) if v else "—")

    def bars(self, items: tuple[Breakdown, ...], domain: str) -> Markup:
        return charts.bar_chart([(self.loc.term(domain, b.key), float(b.count)) for b in items],
                                width=330, fmt=lambda v: self.loc.number(v, 0))


def _band(label: str, at: datetime, level: float, steep: float, shallow: float, end: datetime,
          limit: float, color: str) -> charts.Band:
    """The area between the steep and the shallow trend, from the forecast time until ``end``."""
    times = [at + (end - at) * i / 24 for i in range(25)]
    upper = [(t, min(limit, level + steep * (t - at).total_seconds() / 86400)) for t in times]
    lower = [(t, min(limit, level + shallow * (t - at).total_seconds() / 86400)) for t in times]
    return charts.Band(label, color, upper, lower)


def _context(report: Report, lang: Lang) -> dict[str, Any]:
    header = report.header
    loc = HtmlLocale(lang, ZoneInfo(header.timezone))
    title = loc.t("monthly_title" if header.kind == "monthly" else "quarterly_title")
    view = ChartView(loc, header.period_start, header.period_end)
    extra: dict[str, Any] = {}
    if isinstance(report, MonthlyReport):
        sections = [(key, loc.t(key)) for key in
                    ("summary", "checks", "findings", "forecasts", "tickets", "checklist", "charts")]
        extra["checks_overview"] = overview(report.hosts)
    else:
        english = ("Overall running status of the equipment", "Fault analysis and improvement measures",
                   "Overall service situation", "Next steps and recommendations")
        sections = [(f"part{i + 1}", heading if lang == "zh" else f"{heading} — {english[i]}")
                    for i, heading in enumerate(QUARTERLY_HEADINGS)]
    return {
        "r": report, "h": header, "loc": loc, "charts": view, "title": title, "sections": sections,
        "section_title": dict(sections), "html_lang": _lang_tag(lang), "one_second": timedelta(seconds=1),
        # Built from the plain sentence: it goes into CSS, where HTML escaping does not apply.
        "page_counter": Markup(_counter_content(Locale.t(loc, "page_of"))),
        "doc_title": f"{header.customer_name} · {title} · {loc.period(header.period)}",
        **extra,
    }


def render_html(report: Report, lang: Lang) -> str:
    """The report as one self-contained HTML document."""
    name = "monthly.html.j2" if isinstance(report, MonthlyReport) else "quarterly.html.j2"
    if not isinstance(report, MonthlyReport | QuarterlyReport):
        raise TypeError(f"not a report model: {type(report).__name__}")
    return _environment().get_template(name).render(**_context(report, lang))


_TAG = re.compile(r"<[^>]*>")


def html_to_pdf(html: str) -> bytes:
    """Lay out rendered report HTML on A4 pages (fonts checked first: no glyph may become a box)."""
    from reports import svg_path, svg_text
    from reports.pdf import ChartFetcher, charts_as_images, cyclic_gc_paused, document

    svg_text.install()
    svg_path.install()
    require_cjk_font()
    missing = uncovered(unescape(_TAG.sub("", html)))
    if missing:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:10])
        raise RenderError(f"no installed report font has a glyph for {shown}; install fonts-noto-cjk and "
                          "fonts-dejavu-core, or remove these characters from the configured texts")
    laid_out, images = charts_as_images(html)
    with cyclic_gc_paused():
        pdf = document(laid_out, str(TEMPLATES), ChartFetcher(images)).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def render_pdf(report: Report, lang: Lang) -> bytes:
    return html_to_pdf(render_html(report, lang))


def render(report: Report, lang: Lang, fmt: Format) -> bytes:
    """``html`` (UTF-8) or ``pdf`` bytes."""
    return render_formats(report, lang, (fmt,))[fmt]


def render_formats(report: Report, lang: Lang, formats: Sequence[Format]) -> dict[str, bytes]:
    """The report in each of ``formats``, from one rendering of its HTML."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}: use html or pdf")
    html = render_html(report, lang)
    return {fmt: html.encode("utf-8") if fmt == "html" else html_to_pdf(html) for fmt in formats}
