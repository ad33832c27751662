"""Laying out report HTML as a PDF with WeasyPrint, at the lowest cost the same pages allow.

Two things make a large report (a monthly report of a hundred hosts is over a hundred pages, two
hundred charts and six thousand table cells) much cheaper to lay out without changing a pixel:

- **Charts as images.** Inline SVG is parsed by WeasyPrint's HTML parser and styled by its CSS
  cascade node by node, like HTML. The same SVG given as an ``<img>`` is parsed as XML and drawn
  straight away. :func:`charts_as_images` moves each inline chart into an in-memory table of
  images that :class:`ChartFetcher` serves; the ``img.chart`` rules of the stylesheet give the
  image the box the ``svg.chart`` had. Every other URL is still refused: a report fetches nothing.
- **No cyclic garbage collection during layout** (:func:`cyclic_gc_paused`): layout allocates
  hundreds of thousands of long-lived boxes, and every automatic full collection walks them all.
- **The XML parser for the report's XHTML** (:func:`document`): the rendered report is well-formed
  XML, which the standard library's C parser reads forty times faster than WeasyPrint's HTML5
  parser written in Python, into the same tree. A document that is not well-formed XML (a control
  character in a configured text) is parsed as HTML, as before.
"""

from __future__ import annotations

import base64
import gc
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote_to_bytes

import cssselect2
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse, ensure_url

CHART_SCHEME = "chart:"
# The charts module writes every chart as one <svg> root with this opening and no nested <svg>.
_INLINE_CHART = re.compile(r'<svg xmlns="http://www\.w3\.org/2000/svg" class="(chart[^"]*)".*?</svg>', re.S)


class RefusedURL(RuntimeError):
    """A report asked for a resource outside itself."""


def charts_as_images(html: str) -> tuple[str, dict[str, bytes]]:
    """``html`` with each inline chart replaced by an ``<img class="chart…">`` of the same SVG, and
    the SVG documents by their ``chart:`` URL."""
    images: dict[str, bytes] = {}

    def image(match: re.Match[str]) -> str:
        url = f"{CHART_SCHEME}{len(images)}"
        images[url] = match.group(0).encode("utf-8")
        return f'<img class="{match.group(1)}" src="{url}" alt=""/>'

    return _INLINE_CHART.sub(image, html), images


class ChartFetcher(URLFetcher):
    """Serves the charts of :func:`charts_as_images` from memory and refuses every other URL."""

    def __init__(self, images: Mapping[str, bytes]) -> None:
        super().__init__(allowed_protocols=())
        self._images = images

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):  # embedded in the document itself (the provider's logo): nothing is fetched
            media, _, payload = url[5:].partition(",")
            kind = media.split(";")[0] or "text/plain"
            body = base64.b64decode(payload) if media.endswith(";base64") else unquote_to_bytes(payload)
            return URLFetcherResponse(url, body, {"Content-Type": kind})
        chart = self._images.get(url)
        if chart is None:
            raise RefusedURL(f"reports are self-contained; refusing to fetch {url[:80]!r}")
        return URLFetcherResponse(url, chart, {"Content-Type": "image/svg+xml"})


XHTML_NS = "{http://www.w3.org/1999/xhtml}"
XML_NS = "{http://www.w3.org/XML/1998/namespace}"


def xhtml_tree(html: str) -> ET.Element:
    """The element tree WeasyPrint's HTML parser builds from ``html`` (no namespace on HTML elements,
    namespace declarations kept as attributes), read by the XML parser; :class:`ET.ParseError` if
    ``html`` is not well-formed XML."""
    parser: Any = ET.XMLPullParser(events=("start-ns", "start"))  # events of two kinds: (prefix, uri) and elements
    parser.feed(html)
    parser.close()
    declared: dict[str, str] = {}
    root: ET.Element | None = None
    cut = len(XHTML_NS)
    for event, item in parser.read_events():
        if event == "start-ns":
            prefix, uri = item
            declared["xmlns:" + prefix if prefix else "xmlns"] = uri
            continue
        element: ET.Element = item
        root = element if root is None else root
        if element.tag.startswith(XHTML_NS):
            element.tag = element.tag[cut:]
        if declared or any(name.startswith(XML_NS) for name in element.attrib):
            attrib = {("xml:" + name[len(XML_NS):] if name.startswith(XML_NS) else name): value
                      for name, value in element.attrib.items()}
            element.attrib = {**declared, **attrib}
            declared = {}
    if root is None:
        raise ET.ParseError("no element")
    return root


class XhtmlDocument(HTML):
    """A WeasyPrint document from well-formed XHTML, parsed by the XML parser."""

    def __init__(self, root: ET.Element, base_url: str, url_fetcher: URLFetcher) -> None:
        # What HTML.__init__ sets, from a tree parsed here instead of by its HTML5 parser.
        self.base_url = ensure_url(base_url)
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element


def document(html: str, base_url: str, url_fetcher: URLFetcher) -> HTML:
    """``html`` as a WeasyPrint document: through the XML parser when it is well-formed XHTML
    without a ``<base>`` element, otherwise through WeasyPrint's HTML parser."""
    try:
        root = xhtml_tree(html)
    except ET.ParseError:
        root = None
    if root is None or root.tag != "html" or next(root.iter("base"), None) is not None:
        return HTML(string=html, base_url=base_url, url_fetcher=url_fetcher)
    return XhtmlDocument(root, base_url, url_fetcher)


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = True


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection inside; reference counting still frees as usual.

    The cycles a layout leaves behind are collected by the first automatic collection after the
    pause. Pauses nest across threads: collection resumes when the last one ends, and only if it
    was enabled before the first began.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()
