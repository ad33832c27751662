"""Rendering: well-formed self-contained HTML, A4 PDF with Chinese text, page numbers and no tofu."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports import QUARTERLY_HEADINGS, MonthlyReport, QuarterlyReport, RenderError, html_to_pdf, render_html
from reports.fonts import FAMILIES, find_font, uncovered
from reports.i18n import STRINGS
from tests.reports.conftest import need, need_cjk_font

XHTML = "{http://www.w3.org/1999/xhtml}"
PLACEHOLDERS = re.compile(r"\{\{|\{%|%\}|\}\}|\bNone\b|\bnan\b|\bNaN\b|\binf\b|Undefined")


def _text(root: ET.Element) -> str:
    return " ".join(t.strip() for t in root.itertext() if t.strip())


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", ["monthly", "quarterly"])
def test_html_is_well_formed_and_self_contained(kind: str, lang: str, monthly: MonthlyReport,
                                                quarterly: QuarterlyReport) -> None:
    report = monthly if kind == "monthly" else quarterly
    html = render_html(report, lang)  # type: ignore[arg-type]
    root = ET.fromstring(html)  # strict XML: every element closed, every entity known
    assert root.tag == f"{XHTML}html" and root.get("lang") == ("zh-CN" if lang == "zh" else "en")
    text = _text(root)
    assert not PLACEHOLDERS.search(text), PLACEHOLDERS.search(text)
    attributes = " ".join(v for el in root.iter() for v in el.attrib.values())
    assert not PLACEHOLDERS.search(attributes)
    # Self-contained: inline CSS and SVG, nothing to fetch, no scripts.
    assert root.find(f"{XHTML}head/{XHTML}style") is not None
    assert not re.search(r"<(script|link|img|iframe|object)\b|\b(src|href)=\"(?!#)", html)
    assert len(root.findall(".//{http://www.w3.org/2000/svg}svg")) >= 2
    toc = [a.get("href") for a in root.iter(f"{XHTML}a")]
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert toc and all(href and href[1:] in ids for href in toc)
    if kind == "quarterly":
        h2 = [_text(h) for h in root.iter(f"{XHTML}h2")]
        for heading in QUARTERLY_HEADINGS:  # verbatim, in both languages
            assert any(heading in h for h in h2), heading


def test_html_shows_the_numbers(monthly: MonthlyReport, quarterly: QuarterlyReport) -> None:
    q = _text(ET.fromstring(render_html(quarterly, "zh")))
    assert "98.91%" in q and "2,208" in q and "86.7%" in q and "12小时15分钟" in q and "60.0%" in q
    assert "2026年第三季度" in q and "艾克米科技有限公司（acme）" in q
    m = _text(ET.fromstring(render_html(monthly, "en")))
    assert "September 2026" in m and "86.8%" in m and "no backup probe configured" in m and "OOM kills" in m
    assert "Dear" not in m  # the e-mail text is not part of the document


def test_texts_exist_in_both_languages() -> None:
    assert set(STRINGS["zh"]) == set(STRINGS["en"])
    for lang, strings in STRINGS.items():
        for key, value in strings.items():
            assert value.strip(), (lang, key)


# -- PDF ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory, monthly: MonthlyReport, quarterly: QuarterlyReport
         ) -> dict[str, Path]:
    need_cjk_font()
    out = tmp_path_factory.mktemp("pdf")
    paths = {}
    for name, report, lang in (("quarterly-zh", quarterly, "zh"), ("monthly-en", monthly, "en")):
        path = out / f"{name}.pdf"
        path.write_bytes(html_to_pdf(render_html(report, lang)))  # type: ignore[arg-type]
        paths[name] = path
    return paths


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout


def _pages(pdf: Path) -> int:
    info = _run(need("pdfinfo"), str(pdf))
    match = re.search(r"^Pages:\s+(\d+)", info, re.M)
    assert match
    return int(match[1])


def test_pdf_pages_render_to_images(pdfs: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    pdftoppm = need("pdftoppm")
    for name, pdf in pdfs.items():
        pages = _pages(pdf)
        assert pages >= 6
        subprocess.run([pdftoppm, "-r", "30", "-png", str(pdf), str(tmp_path / name)], check=True, timeout=120)
        images = sorted(tmp_path.glob(f"{name}-*.png"))
        assert len(images) == pages
        for image in images:
            with Image.open(image) as im:
                assert im.size[1] / im.size[0] == pytest.approx(297 / 210, rel=0.02)  # A4 portrait
                lo, hi = im.convert("L").getextrema()
                assert hi - lo > 100, f"{image.name} is blank"


def test_pdf_text_has_the_chinese_headings_page_numbers_and_contents(pdfs: dict[str, Path]) -> None:
    pdftotext = need("pdftotext")
    pdf = pdfs["quarterly-zh"]
    text = _run(pdftotext, "-layout", str(pdf), "-")
    for heading in QUARTERLY_HEADINGS:
        assert heading in text
    pages = _pages(pdf)
    assert f"第 3 页，共 {pages} 页" in text  # the footer of page 3
    contents = _run(pdftotext, "-layout", "-f", "2", "-l", "2", str(pdf), "-")
    assert "目录" in contents
    # Each contents line ends with the page its section starts on.
    listed = [int(m[2]) for m in re.finditer(r"(设备|服务|下一步)\S*\s*\.*\s*(\d+)\s*$", contents, re.M)]
    # Page 3 is the one-page executive summary; the four sections follow it, in order.
    assert len(listed) == 4 and listed == sorted(listed) and listed[0] == 4 and listed[-1] <= pages
    assert "执行摘要" in _run(pdftotext, "-layout", "-f", "3", "-l", "3", str(pdf), "-")
    assert "Q3 2026" in _run(pdftotext, str(pdfs["monthly-en"]), "-") or "September 2026" in \
        _run(pdftotext, str(pdfs["monthly-en"]), "-")


def test_pdf_embeds_the_cjk_font_and_every_character_has_a_glyph(pdfs: dict[str, Path]) -> None:
    """No tofu: every font is embedded, the CJK one among them, and every character of the text is
    in the character map of an embedded font (a missing glyph would be drawn from none of them)."""
    pdffonts, pdftotext = need("pdffonts"), need("pdftotext")
    for pdf in pdfs.values():
        rows = _run(pdffonts, str(pdf)).splitlines()[2:]
        fonts = [(r.split()[0].split("+", 1)[-1], r.split()[-5]) for r in rows if r.strip()]
        assert fonts and all(emb == "yes" for _, emb in fonts), fonts
        names = {n.replace("-", " ").lower() for n, _ in fonts}
        assert any("noto sans cjk sc" in n for n in names), names
        embedded = [f for f in (find_font(family) for family in FAMILIES) if f is not None
                    and any(n.startswith(f.family.lower()) for n in names)]
        text = _run(pdftotext, str(pdf), "-").replace("\f", "")
        assert uncovered(text, embedded) == []


def test_a_character_no_font_has_is_refused_not_drawn_as_a_box() -> None:
    need_cjk_font()
    assert uncovered("巡检 ok \ue000") == ["\ue000"]
    html = '<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body><p>巡检 \ue000</p></body></html>'
    with pytest.raises(RenderError, match="U\\+E000"):
        html_to_pdf(html)


def test_forecasts_read_as_display_names_never_series_ids(monthly: MonthlyReport, quarterly: QuarterlyReport) -> None:
    assert "磁盘 /data" in _text(ET.fromstring(render_html(quarterly, "zh")))
    root = ET.fromstring(render_html(monthly, "en"))
    [section] = [el for el in root.iter() if el.get("id") == "forecasts"]
    text = _text(section)
    assert "db-01 Disk /data" in text and "disk.used_percent" not in text
    # The note says when the stored forecast was made: the predictions pass at the quarter's end.
    assert "Forecast from data up to 1 Oct 2026, 00:00" in text
