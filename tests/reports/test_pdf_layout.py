"""The rendered PDFs as a customer reads them: every word on the page, none drawn over another, no
internal identifier or operator command in the text, and every section with something in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import MonthlyReport, QuarterlyReport
from reports.render import html_to_pdf, render_html
from tests.reports.conftest import need, need_cjk_font
from tests.reports.pdf_layout import internal_identifiers, outside, overlapping, read_pages

KINDS = [(kind, lang) for kind in ("monthly", "quarterly") for lang in ("zh", "en")]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, monthly: MonthlyReport, quarterly: QuarterlyReport
             ) -> dict[tuple[str, str], Path]:
    need_cjk_font()
    out = tmp_path_factory.mktemp("layout")
    paths = {}
    for kind, lang in KINDS:
        report = monthly if kind == "monthly" else quarterly
        path = out / f"{kind}-{lang}.pdf"
        path.write_bytes(html_to_pdf(render_html(report, lang)))  # type: ignore[arg-type]
        paths[(kind, lang)] = path
    return paths


@pytest.mark.parametrize(("kind", "lang"), KINDS)
def test_no_text_leaves_the_page_or_runs_into_other_text(rendered: dict[tuple[str, str], Path], kind: str,
                                                         lang: str) -> None:
    pages = read_pages(rendered[(kind, lang)], need("pdftotext"))
    assert len(pages) >= 4
    problems = []
    for page in pages:
        problems += [f"page {page.number}: {w.text!r} leaves the page" for w in outside(page)]
        problems += [f"page {page.number}: {a.text!r} overlaps {b.text!r}" for a, b in overlapping(page)]
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize(("kind", "lang"), KINDS)
def test_customer_text_has_no_internal_identifiers(rendered: dict[tuple[str, str], Path], kind: str,
                                                   lang: str) -> None:
    pages = read_pages(rendered[(kind, lang)], need("pdftotext"))
    text = "\n".join(" ".join(w.text for w in p.words) for p in pages)
    assert internal_identifiers(text) == []


@pytest.mark.parametrize(("kind", "lang"), KINDS)
def test_every_page_carries_content(rendered: dict[tuple[str, str], Path], kind: str, lang: str) -> None:
    pages = read_pages(rendered[(kind, lang)], need("pdftotext"))
    # More than the running header and the page number: a page holding only a heading or a stray table
    # row reads as a mistake.
    thin = [p.number for p in pages if len(p.words) < 12]
    assert not thin, f"pages with almost nothing on them: {thin}"
