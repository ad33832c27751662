"""SVG paths in the PDF: a chart's plain path of moves and lines is written in one piece, byte for byte
what WeasyPrint's own point-by-point reading writes; any other path keeps WeasyPrint's reading."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from weasyprint import svg as weasy_svg

from reports import html_to_pdf, svg_path
from reports.charts import Band, HLine, Series, time_chart
from reports.svg_path import draw_path, install, operators
from tests.reports.conftest import need_cjk_font

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("d", "written"), [
    ("M40,87.2 L45.2,86.3", b"40 87.2 m\n45.2 86.3 l"),
    ("M0.5,-0.25 L-10,0 M3,4 L668,148", b"0.5 -0.25 m\n-10 0 l\n3 4 m\n668 148 l"),
    ("M40,148", b"40 148 m"),
    ("m1,2 l3,4", None),  # relative
    ("M1,2 L3,4 Z", None),  # closed
    ("M1,2 H5", None),  # another command
    ("M1,2 3,4", None),  # an implicit line
    ("M 1 2 L 3 4", None),  # other spacing
    ("M1.50,2 L3,4", None),  # a trailing zero: the PDF would say 1.5
    ("M1e3,2 L3,4", None),  # an exponent
    ("M-0,2 L1,1", None),  # a negative zero: the PDF would say 0
    ("M01,2 L1,1", None),  # a leading zero
    ("M1px,2 L3,4", None),  # a unit
    ("", None),
])
def test_only_a_plain_path_of_moves_and_lines_is_written_in_one_piece(d: str, written: bytes | None) -> None:
    assert operators(d) == written


def test_a_chart_is_drawn_byte_for_byte_as_weasyprint_draws_it_point_by_point() -> None:
    """A chart with gaps, a lone point, a band, a dashed limit and a marker path: the PDF with the
    one-piece paths is the PDF WeasyPrint writes reading every point itself."""
    need_cjk_font()
    assert install()
    start = datetime(2026, 9, 1, tzinfo=TZ)
    points = [(start + timedelta(hours=6 * i), 40 + (i % 7) * 3.17) for i in range(40)]
    points += [(start + timedelta(days=13), 55.5)]  # a lone point after a gap
    points += [(start + timedelta(days=16, hours=6 * i), 61.25 - i * 0.5) for i in range(30)]
    band = Band("range", "#93c5fd", [(t, v + 5) for t, v in points[:40]], [(t, v - 5) for t, v in points[:40]])
    chart = time_chart([Series("cpu", "#2563eb", points), Series("limit", "#dc2626", points[::9], dashed=True)],
                       start=start, end=start + timedelta(days=30), tz=TZ, fmt_x=lambda t: f"{t.day}日",
                       bands=[band], hlines=[HLine(90, "90%", "#dc2626")])
    arrow = ('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40"><defs><marker id="m" markerWidth="4" '
             'markerHeight="4"><circle cx="2" cy="2" r="2"/></marker></defs>'
             '<path d="M10,10 L90,30" stroke="black" marker-end="url(#m)"/>'
             '<path d="m5,5 l10,0 z" stroke="black"/></svg>')
    html = ('<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml" lang="zh-CN"><head><meta charset="utf-8"/>'
            f'</head><body>{chart}{arrow}</body></html>')
    one_piece = html_to_pdf(html)
    assert weasy_svg.TAGS["path"] is draw_path
    weasy_svg.TAGS["path"] = svg_path._by_point
    try:
        assert html_to_pdf(html) == one_piece
    finally:
        weasy_svg.TAGS["path"] = draw_path
