"""What a reader of a rendered PDF sees, read back with poppler's ``pdftotext -bbox``: the words on each
page with their boxes, so a test can say that no text leaves the page, no two words are drawn over each
other, and no internal identifier (a series id, a check id, an operator command) reaches the customer."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from inspections import builtin_library
from inspections.catalogue import catalogue

NS = "{http://www.w3.org/1999/xhtml}"
# Boxes may touch: glyph boxes of adjacent words share an edge, and lines of one paragraph abut.
TOLERANCE = 0.8


@dataclass(frozen=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    def core(self) -> tuple[float, float]:
        """The word's box without the font's ascent and descent: where its glyphs' ink mostly is.
        A large figure's box reaches far above and below its digits into the label beside it."""
        h = self.y1 - self.y0
        return self.y0 + 0.2 * h, self.y1 - 0.2 * h

    def overlaps(self, other: Word) -> bool:
        (a0, a1), (b0, b1) = self.core(), other.core()
        dx = min(self.x1, other.x1) - max(self.x0, other.x0)
        dy = min(a1, b1) - max(a0, b0)
        # Ink across more than the tolerance, and over more than a third of the smaller line's height.
        return dx > TOLERANCE and dy > min(a1 - a0, b1 - b0) / 3


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float
    words: tuple[Word, ...]


def read_pages(pdf: Path, pdftotext: str) -> list[Page]:
    out = subprocess.run([pdftotext, "-bbox", str(pdf), "-"], capture_output=True, check=True, timeout=120).stdout
    root = ET.fromstring(out)
    pages = []
    for n, page in enumerate(root.iter(f"{NS}page"), start=1):
        words = tuple(Word(float(w.get("xMin", 0)), float(w.get("yMin", 0)), float(w.get("xMax", 0)),
                           float(w.get("yMax", 0)), w.text or "") for w in page.iter(f"{NS}word"))
        pages.append(Page(n, float(page.get("width", 0)), float(page.get("height", 0)), words))
    return pages


def outside(page: Page) -> list[Word]:
    """Words drawn (partly) off the page."""
    return [w for w in page.words if w.x0 < -TOLERANCE or w.y0 < -TOLERANCE or w.x1 > page.width + TOLERANCE
            or w.y1 > page.height + TOLERANCE]


def overlapping(page: Page) -> list[tuple[Word, Word]]:
    """Pairs of words drawn over each other (a label running into its text)."""
    words = sorted(page.words, key=lambda w: w.y0)
    found = []
    for i, a in enumerate(words):
        for b in words[i + 1:]:
            if b.y0 >= a.y1:
                break
            if a.overlaps(b):
                found.append((a, b))
    return found


def internal_identifiers(text: str) -> list[str]:
    """Series ids, check ids, label selectors and operator commands found in customer text."""
    series = set(catalogue().metrics)
    checks = set(builtin_library().ids())
    found = [s for s in sorted(series | checks) if re.search(rf"(?<![\w.]){re.escape(s)}(?![\w])", text)]
    found += re.findall(r"\w+\{\w+=[^}]*\}", text)  # net.rx_errors_per_s{interface=eth1}
    found += re.findall(r"\bpatrol(?:-collector)? [a-z]+", text)
    found += COMMANDS.findall(text)
    return found


# Shell commands an operator types: customer text says what to do, not which command does it.
COMMANDS = re.compile(r"\b(?:systemctl|journalctl|iostat|lsof|smartctl|chronyc|timedatectl|ethtool|du -\w+|df -\w+)\b")
