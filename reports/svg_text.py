"""SVG text drawn by WeasyPrint as one run per ``<text>`` instead of one run per letter.

WeasyPrint 70 draws every SVG ``<text>`` letter by letter: a Pango layout, a text object and a
graphics state for each letter, whatever the text asks for, because ``x``, ``y``, ``dx``, ``dy`` and
``rotate`` may each place single letters. A chart's tick labels ask for none of that: one ``x`` and
one ``y`` for the whole label. :func:`install` makes WeasyPrint draw such a text as the one layout it
already measures it with (the same font, size, colour, position and anchor), and leaves every other
text (lists of positions, rotated letters, letter spacing, ``textLength``, baseline alignment,
right-to-left text, nested ``tspan``) to WeasyPrint's own per-letter drawing. The letters are the
same and extract as the same words (``pdftotext``); only the pairs a font kerns sit as the font
kerns them.
"""

from __future__ import annotations

import logging
import threading
from math import inf
from typing import Any

import weasyprint
from weasyprint import svg as weasy_svg
from weasyprint.css.properties import INITIAL_VALUES
from weasyprint.draw.text import draw_emojis, draw_first_line
from weasyprint.matrix import Matrix
from weasyprint.svg.bounding_box import extend_bounding_box
from weasyprint.svg.text import Style, TextBox
from weasyprint.svg.utils import normalize, size
from weasyprint.text.line_break import split_first_line

# Attributes with which WeasyPrint places, turns, spaces or aligns letters one by one, or aligns the
# run by something other than its baseline: texts with any of them keep the per-letter drawing.
PER_LETTER = frozenset(("dx", "dy", "rotate", "letter-spacing", "textLength", "lengthAdjust", "display-anchor",
                        "dominant-baseline", "alignment-baseline", "direction", "word-spacing"))

# The WeasyPrint release whose SVG text drawing :func:`draw_text` reproduces (see requirements.lock).
WRITTEN_FOR = "70."

log = logging.getLogger("patrol.reports")


def written_for_this_weasyprint() -> bool:
    """Whether the installed WeasyPrint is the release :data:`WRITTEN_FOR` names: the replacements
    of its SVG drawing (here and in :mod:`reports.svg_path`) are installed with that one only."""
    return weasyprint.__version__.startswith(WRITTEN_FOR)
_lock = threading.Lock()
_per_letter: Any = None


def _single(node: Any, name: str) -> bool:
    """Whether ``name`` is absent or one value (not a list of per-letter positions)."""
    value = node.attrib.get(name)
    return value is None or " " not in normalize(value).strip()


def whole_run(node: Any) -> bool:
    """Whether WeasyPrint may draw ``node`` as one run: a ``text`` with its own letters only, at one
    position, with none of the :data:`PER_LETTER` attributes."""
    return (node.tag == "text" and bool(node.text) and not node.text.isspace()
            and not any(name in node.attrib for name in PER_LETTER)
            and _single(node, "x") and _single(node, "y") and len(node._wrapper.etree_children) == 0)


def _style(svg: Any, node: Any, font_size: float) -> Style:
    """The text style WeasyPrint's SVG text drawing builds from the node's attributes."""
    style = Style()
    style.update(INITIAL_VALUES)
    style.font_config = svg.font_config  # type: ignore[attr-defined]
    style["font_family"] = [font.strip("\"'") for font in node.get("font-family", "sans-serif").split(",")]
    style["font_style"] = node.get("font-style", "normal")
    weight = node.get("font-weight", 400)
    if weight == "normal":
        weight = 400
    elif weight == "bold":
        weight = 700
    else:
        try:
            weight = int(weight)
        except ValueError:
            weight = 400
    style["font_weight"] = weight
    style["font_size"] = font_size
    return style


def draw_text(svg: Any, node: Any, font_size: float) -> None:
    """WeasyPrint's SVG ``text`` drawing, with a whole run where :func:`whole_run` allows one."""
    if not whole_run(node):
        _per_letter(svg, node, font_size)
        return
    style = _style(svg, node, font_size)
    layout, _, _, width, height, baseline = split_first_line(node.text, style, svg.context, inf, 0)
    x = size(node.attrib["x"], font_size, svg.inner_width) if "x" in node.attrib else None
    y = size(node.attrib["y"], font_size, svg.inner_height) if "y" in node.attrib else None
    # The cursor as the per-letter drawing leaves it (a zero position does not reset its shift).
    if x:
        svg.cursor_d_position[0] = 0
    if y:
        svg.cursor_d_position[1] = 0
    x = svg.cursor_position[0] if x is None else x
    y = svg.cursor_position[1] if y is None else y
    svg.cursor_position = x + width, y
    x_position = x + svg.cursor_d_position[0]
    y_position = y + svg.cursor_d_position[1]
    node.text_bounding_box = extend_bounding_box(
        node.text_bounding_box,
        ((x_position, y_position - baseline), (x_position + width, y_position - baseline + height)))

    svg.stream.push_state()
    fill, stroke = svg.set_graphical_state(node, font_size)
    svg.stream.begin_text()
    layout.reactivate(style)
    svg.fill_stroke(fill, stroke, text=True)
    box = TextBox(layout, style)
    box.baseline = baseline  # type: ignore[attr-defined]
    emojis = draw_first_line(svg.stream, box, "none", "none", Matrix(d=-1, e=x_position, f=y_position))
    svg.stream.end_text()
    svg.stream.pop_state()
    draw_emojis(svg.stream, style, x, y, emojis)


def install() -> bool:
    """Draw SVG text through :func:`draw_text` from now on, in this process (idempotent); False, and
    WeasyPrint's own drawing kept, with a WeasyPrint other than the one this was written against.

    WeasyPrint's SVG drawing finds a node's drawing function in its ``TAGS`` table and recognises
    text nodes (for ``text-anchor``) by comparing that function with its module's ``text``: both are
    replaced together, for every tag drawn as text, so the comparison holds as before."""
    global _per_letter
    with _lock:
        if _per_letter is not None:
            return True
        if not written_for_this_weasyprint():
            log.info("event=svg_text_letter_by_letter weasyprint=%s (whole runs are drawn with %s.x only)",
                     weasyprint.__version__, WRITTEN_FOR.rstrip("."))
            return False
        _per_letter = weasy_svg.text
        for tag, function in list(weasy_svg.TAGS.items()):
            if function is _per_letter:
                weasy_svg.TAGS[tag] = draw_text
        weasy_svg.text = draw_text  # type: ignore[attr-defined]
        return True
