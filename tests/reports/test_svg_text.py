"""SVG text in the PDF: a label at one position is drawn as one run, where WeasyPrint's per-letter
drawing would have put it, and anything placed letter by letter still goes through WeasyPrint's own."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports import html_to_pdf
from reports.svg_text import whole_run
from tests.reports.conftest import need, need_cjk_font
from tests.reports.pdf_layout import Word, read_pages

SVG_NS = "http://www.w3.org/2000/svg"


class _Node:
    """The parts of WeasyPrint's SVG node that :func:`whole_run` reads."""

    def __init__(self, markup: str) -> None:
        element = ET.fromstring(markup)
        self.tag = element.tag.split("}")[-1]
        self.text = element.text
        self.attrib = dict(element.attrib)
        self._wrapper = type("Wrapper", (), {"etree_children": list(element)})()


@pytest.mark.parametrize(("markup", "whole"), [
    ('<text x="36" y="151.5" text-anchor="end">100</text>', True),
    ('<text x="40" y="163">9月1日</text>', True),
    ('<text>8日</text>', True),
    ('<text x="10 20 30" y="5">abc</text>', False),
    ('<text x="10" y="5" rotate="30">abc</text>', False),
    ('<text x="10" y="5" dx="2">abc</text>', False),
    ('<text x="10" y="5" letter-spacing="1">abc</text>', False),
    ('<text x="10" y="5" textLength="40">abc</text>', False),
    ('<text x="10" y="5" dominant-baseline="middle">abc</text>', False),
    ('<text x="10" y="5">a<tspan>b</tspan></text>', False),
    ('<text x="10" y="5"> </text>', False),
    ('<tspan x="10" y="5">abc</tspan>', False),
])
def test_only_a_label_at_one_position_is_drawn_as_one_run(markup: str, whole: bool) -> None:
    assert whole_run(_Node(markup)) is whole


def _words(pdf: bytes, tmp_path: Path) -> list[Word]:
    path = tmp_path / "chart.pdf"
    path.write_bytes(pdf)
    [page] = read_pages(path, need("pdftotext"))
    return sorted(page.words, key=lambda w: (round(w.y0), w.x0))


def test_a_label_drawn_as_one_run_lands_where_letter_by_letter_drawing_puts_it(tmp_path: Path) -> None:
    """Each label twice: once as a run, once with ``letter-spacing="0"`` (the same place, drawn
    letter by letter by WeasyPrint): their words have the same text and the same horizontal extent,
    for every anchor."""
    need_cjk_font()
    rows = []
    for i, (anchor, x, label) in enumerate([("start", 60, "9月1日"), ("middle", 200, "15日"), ("end", 360, "100"),
                                            ("middle", 200, "Sep 8"), ("end", 360, "29日")]):
        for j, extra in enumerate(("", ' letter-spacing="0"')):
            rows.append(f'<text x="{x}" y="{20 + 40 * i + 20 * j}" text-anchor="{anchor}"{extra}>{label}</text>')
    svg = (f'<svg xmlns="{SVG_NS}" class="chart" viewBox="0 0 400 220" width="400" height="220" '
           f'font-family="Noto Sans CJK SC, DejaVu Sans, sans-serif" font-size="10" fill="#374151">'
           f'{"".join(rows)}</svg>')
    html = (f'<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml" lang="zh-CN"><head><meta charset="utf-8"/>'
            f'<style>img.chart {{ width: 100%; }}</style></head><body>{svg}</body></html>')
    words = _words(html_to_pdf(html), tmp_path)
    lines: dict[int, list[Word]] = {}
    for w in words:
        lines.setdefault(round((w.y0 + w.y1) / 2), []).append(w)
    runs = [lines[k] for k in sorted(lines)]
    assert len(runs) == 10
    for run, letters in zip(runs[::2], runs[1::2], strict=True):
        assert "".join(w.text for w in run) == "".join(w.text for w in letters)
        assert run[0].x0 == pytest.approx(letters[0].x0, abs=0.6)
        assert run[-1].x1 == pytest.approx(letters[-1].x1, abs=0.6)


def test_whole_runs_are_drawn_with_the_locked_weasyprint() -> None:
    # Another WeasyPrint keeps its own per-letter drawing: this fails then, so that draw_text is
    # checked against the new release before WRITTEN_FOR is moved.
    from reports.svg_text import install

    assert install()
