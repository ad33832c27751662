"""PDF layout: charts travel as in-memory images, nothing else is fetched, garbage collection resumes, the
report's XHTML is read by the XML parser into the tree the HTML parser would build."""

from __future__ import annotations

import gc
import socket
import xml.etree.ElementTree as ET

import pytest
import tinyhtml5
from weasyprint import HTML

from reports import MonthlyReport, QuarterlyReport, html_to_pdf, render_html
from reports.pdf import ChartFetcher, RefusedURL, XhtmlDocument, charts_as_images, cyclic_gc_paused, document
from tests.reports.conftest import need_cjk_font

SVG = "{http://www.w3.org/2000/svg}svg"


def test_every_inline_chart_becomes_an_image_of_the_same_svg(monthly: MonthlyReport) -> None:
    html = render_html(monthly, "en")
    charts = ET.fromstring(html).findall(f".//{SVG}")
    laid_out, images = charts_as_images(html)
    assert len(images) == len(charts) >= 2
    assert "<svg" not in laid_out
    for url, body in images.items():
        assert f'src="{url}"' in laid_out
        svg = ET.fromstring(body)
        assert svg.tag == SVG and "chart" in (svg.get("class") or "")
    for chart in charts:
        chart.tail = None  # the text after the chart stays in the page
    assert [ET.tostring(c) for c in charts] == [ET.tostring(ET.fromstring(b)) for b in images.values()]


def test_the_fetcher_serves_only_the_charts() -> None:
    fetcher = ChartFetcher({"chart:0": b"<svg/>"})
    response = fetcher.fetch("chart:0")
    assert response.read() == b"<svg/>" and response.content_type == "image/svg+xml"
    response.close()
    for url in ("chart:1", "http://127.0.0.1:1/x.png", "file:///etc/passwd"):
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)
    # A data: URI is part of the document (the provider's logo): read from it, nothing is fetched.
    embedded = fetcher.fetch("data:image/png;base64,AAAA")
    assert embedded.read() == b"\x00\x00\x00" and embedded.content_type == "image/png"
    embedded.close()


def test_a_report_with_an_outside_url_fetches_nothing(monthly: MonthlyReport) -> None:
    need_cjk_font()
    with socket.socket() as listener:  # a fetch would connect here
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        html = render_html(monthly, "en").replace(
            "</body>", f'<img src="{base}/pixel.png" alt=""/><p style="background: url({base}/bg.png)">x</p></body>')
        assert html_to_pdf(html).startswith(b"%PDF-")
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_collection_pauses_nest_and_resume_as_they_were() -> None:
    assert gc.isenabled()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
            with cyclic_gc_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # disabled before: stays disabled
    finally:
        gc.enable()


def _shape(element: ET.Element) -> list[tuple[str, dict[str, str], str, str]]:
    """Every element in document order: tag, attributes, text and tail (whitespace-only text as empty)."""
    def text(value: str | None) -> str:
        return value if value and value.strip() else ""
    return [(e.tag, dict(e.attrib), text(e.text), text(e.tail)) for e in element.iter()]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_xml_parser_builds_the_tree_of_the_html_parser(monthly: MonthlyReport, quarterly: QuarterlyReport,
                                                          lang: str) -> None:
    for report in (monthly, quarterly):
        laid_out, _ = charts_as_images(render_html(report, lang))  # type: ignore[arg-type]
        doc = document(laid_out, "/", ChartFetcher({}))
        assert isinstance(doc, XhtmlDocument)
        by_html = tinyhtml5.parse(laid_out, namespace_html_elements=False)
        # The HTML parser adds a <tbody> to a table whose rows have none; layout makes the same
        # row group of either.
        assert [s for s in _shape(by_html) if s[0] != "tbody"] == \
            [s for s in _shape(doc.etree_element) if s[0] != "tbody"]
        assert doc.etree_element.find(".//table") is not None and doc.etree_element.get("lang")


def test_html_that_is_not_well_formed_xml_is_parsed_as_html() -> None:
    for html in ("<html><body><p>a<br>b</p></body></html>",  # HTML, not XML
                 "<html><body><p>\x0b</p></body></html>",  # a character XML does not allow
                 '<html><head><base href="http://127.0.0.1:1/"/></head><body><p>x</p></body></html>'):
        doc = document(html, "/", ChartFetcher({}))
        assert type(doc) is HTML
    assert isinstance(document("<html><body><p>x</p></body></html>", "/", ChartFetcher({})), XhtmlDocument)


def test_both_parsers_lay_out_the_same_pdf(monthly: MonthlyReport) -> None:
    need_cjk_font()
    laid_out, images = charts_as_images(render_html(monthly, "zh"))
    by_xml = document(laid_out, "/", ChartFetcher(images)).write_pdf()
    by_html = HTML(string=laid_out, base_url="/", url_fetcher=ChartFetcher(images)).write_pdf()
    assert by_xml == by_html
