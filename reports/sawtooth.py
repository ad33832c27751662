"""Sawtooth series (a log partition that logrotate empties every night) and their envelopes.

A chart of such a series at one point per few hours is a dense zig-zag that hides what matters: how
full the mount gets before each reset and whether that peak creeps up. Charts draw it as its
envelope instead: the band between the lowest and the highest value over one reset period, with the
upper edge as the line.

The detector looks only at the values, never at names: a sawtooth has

- **large drops**: steps down of at least half the series' robust range (5th to 95th percentile),
- **many of them**: at least :data:`MIN_RESETS` in the window,
- **regularly**: most gaps between drops within half to one and a half times their median,
- **slow rises**: the series climbs back in many small steps, each at most :data:`RISE_SHARE` of a
  reset's fall (90th percentile of the steps up against the median drop). Noise and random walks
  step up as far as they step down, and a working day's load (memory climbing through the day and
  freed at night) rises in a few steps about as large as its fall: those stay lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

Point = tuple[datetime, float]

MIN_RESETS = 3
DROP_SHARE = 0.5  # a reset falls at least this share of the robust range
REGULAR_SHARE = 2 / 3  # this share of the gaps between resets lies within [0.5, 1.5] × their median
RISE_SHARE = 0.5  # the 90th percentile of the steps up is at most this share of the median drop


@dataclass(frozen=True)
class Sawtooth:
    """A detected sawtooth: how many resets, their usual spacing (seconds) and usual fall."""

    resets: int
    period_s: float
    drop: float


def detect(points: Sequence[Point], *, min_resets: int = MIN_RESETS) -> Sawtooth | None:
    """The sawtooth in ``points`` (time order), or None for a line that is not one."""
    pts = [(t.timestamp(), v) for t, v in points if v is not None and math.isfinite(v)]
    if len(pts) < 2 * min_resets + 2:
        return None
    ts = np.array([t for t, _ in pts])
    vs = np.array([v for _, v in pts])
    low, high = np.percentile(vs, [5, 95])
    span = float(high - low)
    if span <= 0:
        return None
    steps = np.diff(vs)
    threshold = DROP_SHARE * span
    drops = np.flatnonzero(steps <= -threshold)
    if len(drops) < min_resets:
        return None
    drop = float(-np.median(steps[drops]))
    rises = steps[steps > 0]
    if len(rises) and float(np.percentile(rises, 90)) > RISE_SHARE * drop:
        return None
    gaps = np.diff(ts[drops + 1])
    period = float(np.median(gaps))
    if period <= 0:
        return None
    regular = np.count_nonzero((gaps >= 0.5 * period) & (gaps <= 1.5 * period))
    if regular < REGULAR_SHARE * len(gaps):
        return None
    return Sawtooth(len(drops), period, drop)


def envelope(highs: Sequence[Point], lows: Sequence[Point] = (), *, period_s: float
             ) -> tuple[list[Point], list[Point]]:
    """(upper, lower) at the times of ``highs``: the largest high and the smallest low within half a
    reset period either side. ``lows`` (the minimum per bucket, same times or a subset) default to
    the highs themselves."""
    pts = [(t, v) for t, v in highs if v is not None and math.isfinite(v)]
    if not pts:
        return [], []
    ts = np.array([t.timestamp() for t, _ in pts])
    hs = np.array([v for _, v in pts])
    by_time = {t.timestamp(): v for t, v in lows if v is not None and math.isfinite(v)}
    ls = np.array([min(by_time.get(t, v), v) for t, v in zip(ts, hs, strict=True)])
    half = period_s / 2
    first = np.searchsorted(ts, ts - half, side="left")
    last = np.searchsorted(ts, ts + half, side="right")
    upper, lower = [], []
    for (t, _), i, j in zip(pts, first, last, strict=True):
        upper.append((t, float(hs[i:j].max())))
        lower.append((t, float(ls[i:j].min())))
    return upper, lower
