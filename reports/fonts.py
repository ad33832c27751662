"""The fonts of PDF reports, and a guard against characters no font can draw (the "tofu" box).

PDFs use Noto Sans CJK SC from Debian's ``fonts-noto-cjk`` package for Chinese and Latin text, with
DejaVu Sans (``fonts-dejavu-core``) behind it for symbols the CJK font lacks. Fonts are found through
fontconfig (``fc-match``), the same way Pango finds them for WeasyPrint. :func:`uncovered` lists the
characters of a text that none of the report's fonts has a glyph for; the PDF renderer refuses to
produce a document with such characters instead of printing boxes.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# The CSS font stack of the templates, in order.
FAMILIES = ("Noto Sans CJK SC", "DejaVu Sans")
CJK_FAMILY = FAMILIES[0]
CJK_PACKAGE = "fonts-noto-cjk"
_ALWAYS_OK = frozenset("\n\r\t \u00a0\u200b\ufeff")


class FontError(RuntimeError):
    """A font the PDF needs is missing; the message names the package to install."""


@dataclass(frozen=True)
class FontFile:
    family: str
    path: Path
    index: int


@cache
def find_font(family: str) -> FontFile | None:
    """The file fontconfig uses for ``family``, or None when only a substitute would be used."""
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{family}\t%{file}\t%{index}", family], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    names, _, rest = out.partition("\t")
    file, _, index = rest.partition("\t")
    # fc-match always answers with *some* font; it only counts when it is the family asked for.
    if family.lower() not in (n.strip().lower() for n in names.split(",")) or not file:
        return None
    return FontFile(family, Path(file), int(index or 0))


@cache
def _cmap(font: FontFile) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(font.path, fontNumber=font.index, lazy=True) as tt:
        return frozenset(tt.getBestCmap())


def report_fonts() -> list[FontFile]:
    """The installed fonts of :data:`FAMILIES` (possibly none)."""
    return [f for f in (find_font(name) for name in FAMILIES) if f is not None]


def require_cjk_font() -> FontFile:
    font = find_font(CJK_FAMILY)
    if font is None:
        raise FontError(f"the font {CJK_FAMILY!r} is not installed, so Chinese text cannot be rendered in PDF "
                        f"reports: install Debian's {CJK_PACKAGE} package (apt-get install {CJK_PACKAGE})")
    return font


def uncovered(text: str, fonts: list[FontFile] | None = None) -> list[str]:
    """Characters of ``text`` without a glyph in any of ``fonts`` (default: the report fonts), sorted."""
    fonts = report_fonts() if fonts is None else fonts
    maps = [_cmap(f) for f in fonts]
    missing = {c for c in set(text) if c not in _ALWAYS_OK and not any(ord(c) in m for m in maps)}
    return sorted(missing)
