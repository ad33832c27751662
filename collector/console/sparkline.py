"""Small server-rendered SVG sparklines (no script, no inline style: classes carry the colours)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from markupsafe import Markup, escape

WIDTH = 80
HEIGHT = 20


def sparkline(values: Sequence[float | None], *, title: str = "", low: float = 0.0, high: float | None = 100.0,
              css: str = "spark") -> Markup:
    """An inline SVG polyline of ``values`` (gaps where a value is None) scaled to [low, high]
    (``high=None``: to the largest value). Drawn once per distinct input: a fleet page redrawn
    within the hour shows the same hourly points."""
    return _drawn(tuple(values), title, low, high, css)


@lru_cache(maxsize=16384)
def _drawn(values: tuple[float | None, ...], title: str, low: float, high: float | None, css: str) -> Markup:
    points = [v for v in values if v is not None]
    label = f"<title>{escape(title)}</title>" if title else ""
    if not points:
        return Markup(f'<svg class="{css} empty" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">{label}</svg>')
    top = high if high is not None else max(points)
    span = (top - low) or 1.0
    step = WIDTH / max(1, len(values) - 1)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        y = HEIGHT - 1 - (min(max(v, low), top) - low) / span * (HEIGHT - 2)
        segments[-1].append(f"{i * step:.1f},{y:.1f}")
    lines = "".join(f'<polyline points="{" ".join(s)}"/>' for s in segments if len(s) > 1)
    dots = "".join(f'<circle cx="{s[0].split(",")[0]}" cy="{s[0].split(",")[1]}" r="1"/>'
                   for s in segments if len(s) == 1)
    return Markup(f'<svg class="{css}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" preserveAspectRatio="none">'
                  f"{label}{lines}{dots}</svg>")
