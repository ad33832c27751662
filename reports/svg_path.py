"""SVG paths of straight segments written to the PDF in one piece instead of point by point.

WeasyPrint 70 reads a ``<path>``'s ``d`` one command at a time: each point is split off the string,
sized as a length, turned into a marker angle and written as its own PDF operator, about 25 µs a
point. A report's charts are such paths by the hundred, each with up to a few hundred points, and
only ever of absolute moves and lines (``M x,y L x,y L x,y M x,y …``) with plain numbers. For those,
:func:`install` has WeasyPrint write the same operators as one chunk: the numbers are copied as
written, so the PDF is byte for byte the one WeasyPrint's own reading produces. Any other path (other
commands, relative coordinates, units, exponents, a number not as PDF writes it, markers) keeps
WeasyPrint's drawing.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from weasyprint import svg as weasy_svg

from reports.svg_text import written_for_this_weasyprint

# A number as pydyf writes a float: no sign on zero, no leading zeros, no trailing zeros, no exponent.
_NUMBER = r"(?:0|-?[1-9]\d*(?:\.\d*[1-9])?|-?0\.\d*[1-9])"
_PAIR = rf"{_NUMBER},{_NUMBER}"
PLAIN = re.compile(rf"M{_PAIR}(?: L{_PAIR})*(?: M{_PAIR}(?: L{_PAIR})*)*")
_STEP = re.compile(rf"([ML])({_NUMBER}),({_NUMBER})")
_OPERATOR = {"M": "m", "L": "l"}
MARKERS = ("marker", "marker-start", "marker-mid", "marker-end")

_lock = threading.Lock()
_by_point: Any = None


def operators(d: str) -> bytes | None:
    """The PDF path operators WeasyPrint writes for ``d`` (after its initial move to the origin), or
    None when ``d`` is not a plain path of absolute moves and lines."""
    if PLAIN.fullmatch(d) is None:
        return None
    return "\n".join([f"{x} {y} {_OPERATOR[c]}" for c, x, y in _STEP.findall(d)]).encode("ascii")


def draw_path(svg: Any, node: Any, font_size: float) -> None:
    """WeasyPrint's SVG ``path`` drawing, in one chunk for a plain path without markers."""
    written = None if any(name in node.attrib for name in MARKERS) else operators(node.get("d", ""))
    if written is None:
        _by_point(svg, node, font_size)
        return
    svg.stream.move_to(0, 0)  # WeasyPrint's reading starts at the origin too
    svg.stream.stream.append(written)


def install() -> bool:
    """Draw plain SVG paths through :func:`draw_path` from now on, in this process (idempotent); False,
    and WeasyPrint's own drawing kept, with a WeasyPrint other than the one this was written against."""
    global _by_point
    with _lock:
        if _by_point is not None:
            return True
        if not written_for_this_weasyprint():
            return False
        _by_point = weasy_svg.TAGS["path"]
        weasy_svg.TAGS["path"] = draw_path
        return True
