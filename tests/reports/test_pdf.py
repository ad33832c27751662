"""PDF layout: charts travel as in-memory images, nothing else is fetched, garbage collection resumes."""

from __future__ import annotations

import gc
import socket
import xml.etree.ElementTree as ET

import pytest

from reports import MonthlyReport, html_to_pdf, render_html
from reports.pdf import ChartFetcher, RefusedURL, charts_as_images, cyclic_gc_paused
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
