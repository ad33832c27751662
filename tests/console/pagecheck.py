"""What every console page must satisfy: the CSP header, and HTML the CSP leaves working."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from collector.console.security import CSP


class InlineFinder(HTMLParser):
    """Collects inline scripts, inline event handlers and style attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k.lower(): v for k, v in attrs}
        if tag == "script" and not names.get("src"):
            self._in_script = True
        if tag == "style":
            self.problems.append("a <style> element")
        for name in names:
            if name.startswith("on"):
                self.problems.append(f"an inline handler {name}= on <{tag}>")
            if name == "style":
                self.problems.append(f"a style attribute on <{tag}>")
        for name in ("href", "src", "action"):
            if (names.get(name) or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"a javascript: URL on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"an inline script: {data.strip()[:60]!r}")


def csp_problems(headers: dict[str, str] | object, html: str) -> list[str]:
    problems: list[str] = []
    csp = headers.get("content-security-policy") if hasattr(headers, "get") else None  # type: ignore[union-attr]
    if csp != CSP:
        problems.append(f"Content-Security-Policy is {csp!r}")
    finder = InlineFinder()
    finder.feed(html)
    return problems + finder.problems


def mentions(text: str, name: str) -> bool:
    """Whether ``name`` (a hostname, a ticket title) appears in ``text`` as a whole word: a machine
    named "vm" is not mentioned by a page whose random CSRF token happens to hold those letters."""
    # Bounded by anything but the letters of a token (ASCII letters, digits, "-", "_"): a Chinese
    # character right beside a hostname still counts, as it would for a reader.
    return bool(name) and re.search(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])", text) is not None
