"""Inline SVG charts for reports, drawn by hand: no plotting library, no scripts, no external files.

Charts are plain SVG 1.1 that browsers and WeasyPrint both render, sized by a ``viewBox`` so they
scale to the column. Every text goes through XML escaping. Time axes take tz-aware datetimes and
label ticks with the caller's formatter, so the chart knows nothing about languages. A time chart's
legend is not SVG text but an HTML list right under the SVG, its swatches coloured by the report
stylesheet's classes (:func:`legend_list`): the PDF lays it out as page text, where WeasyPrint would lay
out SVG text letter by letter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from statistics import median

from markupsafe import Markup, escape

from reports import sawtooth

FONT = "Noto Sans CJK SC, Noto Sans CJK, Source Han Sans SC, DejaVu Sans, sans-serif"
COLORS = {"cpu": "#2563eb", "mem": "#16a34a", "disk": "#dc2626", "score": "#7c3aed", "forecast": "#ea580c",
          "limit": "#991b1b", "band": "#fdba74", "grid": "#e5e7eb", "axis": "#6b7280", "text": "#374151",
          "bar": "#2563eb"}
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#7c3aed", "#ea580c", "#0891b2", "#ca8a04", "#db2777")

# Each chart colour's name in the stylesheet's legend swatch classes (``c-blue`` …).
SWATCHES = {"#2563eb": "blue", "#16a34a": "green", "#dc2626": "red", "#7c3aed": "violet", "#ea580c": "orange",
            "#0891b2": "cyan", "#ca8a04": "amber", "#db2777": "pink", "#991b1b": "darkred", "#fdba74": "peach",
            "#6b7280": "grey", "#374151": "text"}

DAY = 86400.0


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    points: Sequence[tuple[datetime, float]]
    dashed: bool = False
    markers: bool = False
    width: float = 1.6
    # The minimum per bucket where ``points`` are maxima: the lower edge of a sawtooth's envelope (a
    # solid line without markers whose values fall back regularly, see :mod:`reports.sawtooth`).
    lows: Sequence[tuple[datetime, float]] = ()


@dataclass(frozen=True)
class Band:
    """A filled area between ``lower`` and ``upper`` (same times)."""

    label: str
    color: str
    upper: Sequence[tuple[datetime, float]]
    lower: Sequence[tuple[datetime, float]]
    kind: str = "band"  # the polygon's class: band (a forecast's range) or envelope (a sawtooth's range)
    opacity: float = 0.35


@dataclass(frozen=True)
class HLine:
    value: float
    label: str
    color: str


@dataclass(frozen=True)
class VLine:
    at: datetime
    label: str
    color: str


@dataclass
class _Frame:
    t0: float
    t1: float
    y0: float
    y1: float
    width: int
    height: int
    left: int = 40
    right: int = 12
    top: int = 10
    bottom: int = 22
    parts: list[str] = field(default_factory=list)

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, t: float) -> float:
        span = self.t1 - self.t0 or 1.0
        return self.left + (t - self.t0) / span * self.plot_w

    def y(self, v: float) -> float:
        span = self.y1 - self.y0 or 1.0
        clamped = min(max(v, self.y0), self.y1)
        return self.top + (1.0 - (clamped - self.y0) / span) * self.plot_h


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


Key = tuple[str, str, str]  # legend entry: label, colour, style (line, dashed or envelope)


def _svg(frame: _Frame) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="{frame.width}" height="{frame.height}" font-family="{FONT}" font-size="10" fill="{COLORS["text"]}">'
        f'{"".join(frame.parts)}</svg>')


def swatch_class(color: str) -> str:
    """The stylesheet's class for a legend swatch of ``color`` (``c-text`` for a colour it does not name)."""
    return f"c-{SWATCHES.get(color.lower(), 'text')}"


def legend_list(items: Sequence[Key]) -> Markup:
    """A chart's legend as an HTML list under it: a swatch drawn as the line is (solid, dashed, or the
    shaded envelope under its top line) and the label. Colours come from the stylesheet by class, so
    the markup carries no style attribute; the text is laid out as any other text of the page."""
    keys = "".join(f'<li class="key-{style}"><span class="sw {swatch_class(color)}"></span>{escape(label)}</li>'
                   for label, color, style in items)
    return Markup(f'<ul class="legend">{keys}</ul>')


def _text_width(label: str) -> float:
    """Rough width in units of a Latin character: CJK characters are about twice as wide."""
    return sum(2.0 if ord(c) > 0x2E80 else 1.0 for c in label)


def _time_ticks(t0: float, t1: float, tz: tzinfo) -> list[datetime]:
    """Tick times at local midnights: every 1, 2, 7 or 14 days, or month starts, at most about 8 ticks."""
    start = datetime.fromtimestamp(t0, tz=tz)
    span_days = (t1 - t0) / DAY
    if span_days > 56:
        ticks = []
        d = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while d.timestamp() <= t1:
            if d.timestamp() >= t0:
                ticks.append(d)
            d = (d + timedelta(days=32)).replace(day=1)
        if len(ticks) > 8:
            ticks = ticks[:: math.ceil(len(ticks) / 8)]
        return ticks
    step = next((s for s in (1, 2, 7, 14) if span_days / s <= 8), 28)
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first.timestamp() < t0:
        first += timedelta(days=1)
    out = []
    d = first
    while d.timestamp() <= t1:
        out.append(d)
        d = (d + timedelta(days=step)).replace(hour=0)
    return out


def _axes(frame: _Frame, tz: tzinfo, fmt_x: Callable[[datetime], str], y_suffix: str, y_ticks: int = 4,
          fmt_day: Callable[[datetime], str] | None = None) -> None:
    """Grid, y ticks and time ticks. With ``fmt_day``, a tick in the same month as the one before it
    shows its day alone ("9月1日 8日 15日", "1 Sep 8 15"): the month is read off the tick that names it."""
    # The grid is one path and the axis with its ticks another: one element each to draw, not one per line.
    p = frame.parts
    right = _num(frame.width - frame.right)
    grid: list[str] = []
    labels: list[str] = []
    for i in range(y_ticks + 1):
        v = frame.y0 + (frame.y1 - frame.y0) * i / y_ticks
        y = frame.y(v)
        grid.append(f"M{frame.left},{_num(y)} L{right},{_num(y)}")
        labels.append(f'<text x="{frame.left - 4}" y="{_num(y + 3.5)}" text-anchor="end">'
                      f"{escape(_num(v) + y_suffix)}</text>")
    p.append(f'<path class="grid" d="{" ".join(grid)}" fill="none" stroke="{COLORS["grid"]}" stroke-width="0.8"/>')
    p += labels
    base = frame.top + frame.plot_h
    axis = [f"M{frame.left},{_num(base)} L{right},{_num(base)}"]
    labels = []
    month: tuple[int, int] | None = None
    for tick in _time_ticks(frame.t0, frame.t1, tz):
        x = frame.x(tick.timestamp())
        axis.append(f"M{_num(x)},{_num(base)} L{_num(x)},{_num(base + 4)}")
        label = fmt_day(tick) if fmt_day is not None and (tick.year, tick.month) == month else fmt_x(tick)
        month = (tick.year, tick.month)
        # A label centred on a tick at the chart's edge would be cut off by the SVG's box: align it
        # to the edge instead ("1月1日", never "1月1E").
        half = _text_width(label) * 6.0 / 2  # about 6 px per Latin character at the axes' 10 px
        anchor, tx = "middle", x
        if x + half > frame.width - 1:
            anchor, tx = "end", frame.width - 1
        elif x - half < 1:
            anchor, tx = "start", 1.0
        labels.append(f'<text x="{_num(tx)}" y="{_num(base + 15)}" text-anchor="{anchor}">{escape(label)}</text>')
    p.append(f'<path class="axis" d="{" ".join(axis)}" fill="none" stroke="{COLORS["axis"]}" stroke-width="1"/>')
    p += labels


def _segments(points: Sequence[tuple[datetime, float]]) -> list[list[tuple[float, float]]]:
    """Points split where a gap is much longer than the usual spacing, so outages show as gaps."""
    pts = [(t.timestamp(), v) for t, v in points if v is not None and math.isfinite(v)]
    if len(pts) < 2:
        return [pts] if pts else []
    gaps = [b[0] - a[0] for a, b in pairwise(pts)]
    limit = 3.0 * median(gaps)
    out: list[list[tuple[float, float]]] = [[pts[0]]]
    for gap, point in zip(gaps, pts[1:], strict=True):
        if gap > limit:
            out.append([])
        out[-1].append(point)
    return out


def _straight_runs_joined(coords: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``coords`` without the points inside a straight run: a point on the line from the one before it
    to the one after, going on in the same direction (a flat stretch of a disk's usage), adds nothing
    to the line drawn. Decided on the written coordinates (tenths), so the line is exactly the same."""
    if len(coords) < 3:
        return list(coords)
    tenths = [(round(float(x) * 10), round(float(y) * 10)) for x, y in coords]
    kept = [0]
    for i in range(1, len(coords) - 1):
        (ax, ay), (bx, by), (cx, cy) = tenths[kept[-1]], tenths[i], tenths[i + 1]
        ux, uy, vx, vy = bx - ax, by - ay, cx - bx, cy - by
        if ux * vy - uy * vx != 0 or ux * vx + uy * vy <= 0:
            kept.append(i)
    kept.append(len(coords) - 1)
    return [coords[i] for i in kept]


def _path(frame: _Frame, points: Sequence[tuple[datetime, float]]) -> str:
    d = []
    for seg in _segments(points):
        if not seg:
            continue
        coords = _straight_runs_joined([(_num(frame.x(t)), _num(frame.y(v))) for t, v in seg])
        d.append("M" + " L".join(f"{x},{y}" for x, y in coords))
        if len(seg) == 1:  # a lone point still shows as a short dash
            t, v = seg[0]
            d.append(f"M{_num(frame.x(t) - 1.5)},{_num(frame.y(v))} L{_num(frame.x(t) + 1.5)},{_num(frame.y(v))}")
    return " ".join(d)


def time_chart(series: Sequence[Series], *, start: datetime, end: datetime, tz: tzinfo,
               fmt_x: Callable[[datetime], str], y_min: float = 0.0, y_max: float | None = 100.0,
               y_suffix: str = "%", bands: Sequence[Band] = (), hlines: Sequence[HLine] = (),
               vlines: Sequence[VLine] = (), width: int = 680, height: int = 170,
               legend: bool = True, fmt_day: Callable[[datetime], str] | None = None) -> Markup:
    """Lines over time between ``start`` and ``end``; ``y_max=None`` scales to the data. With a legend,
    the SVG and the legend's list (:func:`legend_list`) in a ``div.figure``."""
    if y_max is None:
        values = [v for s in series for _, v in s.points if math.isfinite(v)]
        top = max(values, default=1.0)
        y_max = _nice_ceiling(top)
    frame = _Frame(start.timestamp(), end.timestamp(), y_min, y_max, width, height)
    _axes(frame, tz, fmt_x, y_suffix, fmt_day=fmt_day)
    p = frame.parts
    drawn, envelopes = _envelopes(series)
    for band in [*envelopes, *bands]:
        for upper, lower in _band_segments(band):
            pts = [*upper, *reversed(lower)]
            coords = " ".join(f"{_num(frame.x(t.timestamp()))},{_num(frame.y(v))}" for t, v in pts)
            p.append(f'<polygon class="{band.kind}" points="{coords}" fill="{band.color}" '
                     f'fill-opacity="{band.opacity}" stroke="none"/>')
    for h in hlines:
        y = frame.y(h.value)
        p.append(f'<line x1="{frame.left}" y1="{_num(y)}" x2="{_num(frame.width - frame.right)}" y2="{_num(y)}" '
                 f'stroke="{h.color}" stroke-width="1" stroke-dasharray="5 3"/>')
    for vl in vlines:
        x = frame.x(vl.at.timestamp())
        p.append(f'<line x1="{_num(x)}" y1="{frame.top}" x2="{_num(x)}" y2="{_num(frame.top + frame.plot_h)}" '
                 f'stroke="{vl.color}" stroke-width="1" stroke-dasharray="2 2"/>')
        anchor = "end" if x > frame.width - 100 else "start"
        dx = -3 if anchor == "end" else 3
        p.append(f'<text x="{_num(x + dx)}" y="{frame.top + 10}" text-anchor="{anchor}" fill="{vl.color}">'
                 f"{escape(vl.label)}</text>")
    for s, _ in drawn:
        d = _path(frame, s.points)
        if d:
            dash = ' stroke-dasharray="5 3"' if s.dashed else ""
            p.append(f'<path d="{d}" fill="none" stroke="{s.color}" stroke-width="{s.width}" '
                     f'stroke-linejoin="round"{dash}/>')
        if s.markers:
            for t, v in s.points:
                p.append(f'<circle cx="{_num(frame.x(t.timestamp()))}" cy="{_num(frame.y(v))}" r="2.2" '
                         f'fill="{s.color}"/>')
    items: list[Key] = [(s.label, s.color, "envelope" if enveloped else "dashed" if s.dashed else "line")
                        for s, enveloped in drawn if s.label]
    items += [(b.label, b.color, "line") for b in bands if b.label]
    items += [(h.label, h.color, "dashed") for h in hlines if h.label]
    if not (items and legend):
        return _svg(frame)
    return Markup(f'<div class="figure">{_svg(frame)}{legend_list(items)}</div>')


def _envelopes(series: Sequence[Series]) -> tuple[list[tuple[Series, bool]], list[Band]]:
    """The series to draw (a sawtooth replaced by its upper envelope, flagged) and the envelopes' bands."""
    drawn: list[tuple[Series, bool]] = []
    bands: list[Band] = []
    for s in series:
        saw = sawtooth.detect(s.points) if not s.dashed and not s.markers else None
        if saw is None:
            drawn.append((s, False))
            continue
        upper, lower = sawtooth.envelope(s.points, s.lows, period_s=saw.period_s)
        bands.append(Band("", s.color, upper, lower, kind="envelope", opacity=0.25))
        drawn.append((replace(s, points=upper), True))
    return drawn, bands


def _band_segments(band: Band) -> list[tuple[list[tuple[datetime, float]], list[tuple[datetime, float]]]]:
    """A band's (upper, lower) stretches, split where its data has a gap as lines are."""
    out = []
    i = 0
    for seg in _segments(band.upper):
        n = len(seg)
        if n > 1:
            out.append((list(band.upper[i:i + n]), list(band.lower[i:i + n])))
        i += n
    return out


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def projection(at: datetime, level: float, slope_per_day: float, until: datetime, limit: float,
               direction_up: bool = True) -> list[tuple[datetime, float]]:
    """The straight trend from ``(at, level)`` until ``until`` or until it reaches ``limit``."""
    days = (until - at).total_seconds() / DAY
    if days <= 0:
        return [(at, level)]
    end_value = level + slope_per_day * days
    if slope_per_day != 0 and ((direction_up and end_value > limit) or (not direction_up and end_value < limit)):
        days = (limit - level) / slope_per_day
        return [(at, level), (at + timedelta(days=days), limit)]
    return [(at, level), (until, end_value)]


def bar_chart(items: Sequence[tuple[str, float]], *, width: int = 680, color: str = COLORS["bar"],
              fmt: Callable[[float], str] = lambda v: _num(v)) -> Markup:
    """Horizontal bars with their labels and values, longest scale at the largest value."""
    row = 18
    label_w = min(260, 14 + 6.5 * max((_text_width(label) for label, _ in items), default=4))
    height = row * max(1, len(items)) + 6
    top = max((v for _, v in items), default=0.0) or 1.0
    plot_w = width - label_w - 60
    parts = []
    for i, (label, value) in enumerate(items):
        y = 3 + i * row
        w = max(0.0, value) / top * plot_w
        parts.append(f'<text x="{_num(label_w - 6)}" y="{y + 12}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{_num(label_w)}" y="{y + 2}" width="{_num(max(w, 0.5))}" height="{row - 6}" '
                     f'fill="{color}" rx="2"/>')
        parts.append(f'<text x="{_num(label_w + w + 4)}" y="{y + 12}">{escape(fmt(value))}</text>')
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="{FONT}" font-size="10" fill="{COLORS["text"]}">'
        f'{"".join(parts)}</svg>')


def color_of(key: str, index: int = 0) -> str:
    return COLORS.get(key) or PALETTE[index % len(PALETTE)]
