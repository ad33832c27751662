"""Anomaly scores in [0, 1] against an adaptive, robust daily/weekly seasonal baseline.

Plain data in (unix-second timestamps and values), scores out. The baseline for a point at time t is

    level(t) + daily(time of day) + weekly(time of week)

and everything in it is learnt from data strictly before the point's 15-minute bin:

- Points are grouped into bins of ``bin_s`` (15 min). When a bin closes, the scorer remembers its
  median, and for the level a copy **clipped** to the baseline ± ``clip_sigmas`` × scale, so an
  outlier burst cannot drag the level after it; a genuine level change still gets through, at most
  ``clip_sigmas`` scales per bin.
- ``daily`` is the median, over the last ``daily_days`` (7) days, of the same bin's deviation from
  the 20 %-trimmed mean of the day centred on it, so trends and level changes do not leak into the
  profile. ``weekly`` is the median, over the last ``weekly_weeks`` (4) weeks, of what the daily
  profile missed at the same time of week, shrunk toward zero unless clearly larger than noise.
  Medians across days and weeks make one bad day or week irrelevant; sparse or irregular sampling
  borrows from neighbouring bins.
- ``level`` is the median of the last ``level_window_s`` (12 h) of de-seasonalised bins, moved along
  the trend of the last day (medians of its two halves), so it adapts within hours.
- The scale is robust: max(1.4826 × median, q80 / 1.2816) of the last three days' absolute
  residuals, the second term keeping discrete or heavy-tailed series from looking anomalous all the
  time while still ignoring up to a fifth of outliers.

The score maps z = |value − baseline| / scale through a logistic centred at ``z_mid`` (3.5): below
0.05 up to z = 2 (95 % of normal noise), 0.5 at z = 3.5, above 0.9 from z = 4.6.

**Warm-up.** With less than ``warmup_s`` (one day) of history there is no daily profile yet and a
daily cycle would look anomalous; scores are multiplied by the fraction of the warm-up elapsed, so
the first day never cries wolf. After a gap longer than ``level_window_s`` the level is stale, and
scores ramp up again over ``gap_ramp_s``.

Streaming-safe by construction: :class:`AnomalyScorer` scores a point before it learns from it, and
:func:`score_series` is the same scorer run over a whole array.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HOUR = 3600.0
DAY = 86400.0
_MAD_TO_SIGMA = 1.4826
_Q80_TO_SIGMA = 1.0 / 1.2816
# Fixed quantiles of |residual| each closed bin keeps: enough to pool a distribution across bins
# whether a bin holds one point or a thousand.
_RESID_QUANTILES = np.array([0.125, 0.375, 0.625, 0.875])
_WEEKLY_NEEDS_DAYS = 3
_SCALE_MIN_BINS = 16


@dataclass(frozen=True)
class AnomalyConfig:
    bin_s: float = 900.0
    daily_days: int = 7
    weekly_weeks: int = 4
    level_window_s: float = 12 * HOUR
    min_level_bins: int = 12
    trend_window_s: float = DAY
    scale_window_s: float = 3 * DAY
    clip_sigmas: float = 4.0
    warmup_s: float = DAY
    gap_ramp_s: float = 2 * HOUR
    z_mid: float = 3.5
    z_width: float = 0.5

    def __post_init__(self) -> None:
        per_day = DAY / self.bin_s
        if self.bin_s <= 0 or abs(per_day - round(per_day)) > 1e-9:
            raise ValueError(f"bin_s must divide a day evenly, got {self.bin_s}")


@dataclass
class _Bin:
    """What the scorer remembers about one closed bin."""

    time: float
    median: float
    clipped: float  # median, clipped to the baseline it was scored against (what the level learns)
    daily: float  # seasonal offsets that baseline used
    daily_n: int  # how many days the daily offset was the median of
    weekly: float
    abs_resid_q: np.ndarray
    # Median minus the (trimmed) mean of the day centred on it, once that day is over. Unclipped: a new
    # weekly pattern looks like an outlier the first time, and medians across days and weeks are
    # what keeps a one-off burst out of the profile.
    seasonal: float | None = None
    seasonal_done: bool = False

    @property
    def deseasonalised(self) -> float:
        return self.clipped - self.daily - self.weekly


@dataclass
class _Baseline:
    """Everything needed to score the points of one bin, computed when the bin opens."""

    level: float
    level_time: float
    slope: float
    daily: float
    daily_n: int
    weekly: float
    scale: float | None  # None while there is nothing to compare against

    def at(self, t: np.ndarray) -> np.ndarray:
        return self.level + self.slope * (t - self.level_time) + self.daily + self.weekly


class AnomalyScorer:
    """Streaming anomaly scorer for one series: ``update(ts, value)`` returns the point's score.

    Points must arrive in time order (within the current 15-minute bin any order is fine).
    """

    def __init__(self, config: AnomalyConfig | None = None):
        self.config = config or AnomalyConfig()
        cfg = self.config
        self._per_day = round(DAY / cfg.bin_s)
        self._per_week = 7 * self._per_day
        self._bins: dict[int, _Bin] = {}
        self._order: deque[int] = deque()
        self._open: int | None = None
        self._open_t: list[float] = []
        self._open_v: list[float] = []
        self._open_r: list[float] = []
        self._base: _Baseline | None = None
        self._first_ts: float | None = None
        self._last_ts: float | None = None
        self._resume_ts: float | None = None

    # ---------------------------------------------------------------------------------------------
    # Public API

    def update(self, ts: float, value: float) -> float:
        """Score one point (NaN for a missing value), then learn from it."""
        return float(self._score_group(np.array([float(ts)]), np.array([float(value)]))[0])

    def score_many(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Score points given in time order; identical to calling :meth:`update` on each."""
        t = np.asarray(ts, dtype=float)
        v = np.asarray(values, dtype=float)
        if t.shape != v.shape or t.ndim != 1:
            raise ValueError(f"ts and values must be 1-D arrays of equal length, got {t.shape} and {v.shape}")
        out = np.empty(t.size)
        if t.size == 0:
            return out
        bins = np.floor(t / self.config.bin_s).astype(np.int64)
        if np.any(np.diff(bins) < 0):
            raise ValueError("points must be in time order; use score_series() for unsorted input")
        cuts = np.concatenate(([0], np.nonzero(np.diff(bins))[0] + 1, [t.size]))
        for a, b in itertools.pairwise(cuts):
            out[a:b] = self._score_group(t[a:b], v[a:b])
        return out

    # ---------------------------------------------------------------------------------------------
    # Scoring

    def _score_group(self, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Score points that all fall in one bin, then add them to it."""
        cfg = self.config
        if not math.isfinite(t[0]):
            raise ValueError(f"timestamp must be a finite number of unix seconds, got {t[0]}")
        b = math.floor(t[0] / cfg.bin_s)
        if self._open is not None and b < self._open:
            raise ValueError(
                f"point at {t[0]} is older than the current {cfg.bin_s:g} s bin; feed points in time order"
            )
        finite = np.isfinite(v) & np.isfinite(t)
        scores = np.full(t.size, np.nan)
        if not finite.any():
            return scores
        t, v = t[finite], v[finite]
        if self._open is None or b > self._open:
            if self._open is not None:
                self._close()
            self._open = b
            self._base = self._baseline(b)
        if self._last_ts is not None and t[0] - self._last_ts > cfg.level_window_s:
            self._resume_ts = float(t[0])
        if self._first_ts is None:
            self._first_ts = float(t[0])
        base = self._base
        assert base is not None
        resid = v - base.at(t)
        if base.scale is not None:
            z = np.abs(resid) / base.scale
            scores[finite] = _squash(z, cfg.z_mid, cfg.z_width) * self._confidence(t)
        else:
            scores[finite] = 0.0
        self._open_t.extend(t.tolist())
        self._open_v.extend(v.tolist())
        self._open_r.extend(resid.tolist())
        self._last_ts = float(t.max()) if self._last_ts is None else max(self._last_ts, float(t.max()))
        return scores

    def _confidence(self, t: np.ndarray) -> np.ndarray:
        """Warm-up and after-gap ramps in [0, 1]."""
        cfg = self.config
        assert self._first_ts is not None
        conf = np.clip((t - self._first_ts) / cfg.warmup_s, 0.0, 1.0)
        if self._resume_ts is not None:
            conf = np.minimum(conf, np.clip((t - self._resume_ts) / cfg.gap_ramp_s, 0.0, 1.0))
        return conf

    # ---------------------------------------------------------------------------------------------
    # Learning

    def _close(self) -> None:
        """Turn the open bin's points into a remembered, clipped summary."""
        assert self._open is not None and self._base is not None
        cfg = self.config
        t = np.array(self._open_t)
        v = np.array(self._open_v)
        r = np.abs(np.array(self._open_r))
        base = self._base
        mid = float(t.min() + t.max()) / 2
        med = _median(v)
        clipped = med
        warmed = self._first_ts is not None and mid - self._first_ts >= cfg.warmup_s
        if base.scale is not None and warmed:
            expected = float(base.at(np.array([mid]))[0])
            width = cfg.clip_sigmas * base.scale
            clipped = min(max(med, expected - width), expected + width)
        self._bins[self._open] = _Bin(
            time=mid,
            median=med,
            clipped=clipped,
            daily=base.daily,
            daily_n=base.daily_n,
            weekly=base.weekly,
            abs_resid_q=np.quantile(r, _RESID_QUANTILES),
        )
        self._order.append(self._open)
        self._open_t.clear()
        self._open_v.clear()
        self._open_r.clear()
        horizon = self._open - cfg.weekly_weeks * self._per_week - self._per_day
        while self._order and self._order[0] < horizon:
            del self._bins[self._order.popleft()]

    def _baseline(self, b: int) -> _Baseline:
        cfg = self.config
        start = b * cfg.bin_s
        if not self._order:
            return _Baseline(0.0, start, 0.0, 0.0, 0, 0.0, None)
        scale = self._scale(start)
        daily, daily_n = self._daily(b)
        weekly = self._weekly(b, scale)
        level, level_time = self._level(start)
        slope = self._slope(start)
        return _Baseline(level, level_time, slope, daily, daily_n, weekly, scale)

    def _recent(self, since: float, at_least: int) -> list[_Bin]:
        """Closed bins newer than ``since`` (newest last), or the last ``at_least`` if that is more."""
        out: list[_Bin] = []
        for idx in reversed(self._order):
            rec = self._bins[idx]
            if rec.time < since and len(out) >= at_least:
                break
            out.append(rec)
        out.reverse()
        return out

    def _level(self, start: float) -> tuple[float, float]:
        recs = self._recent(start - self.config.level_window_s, self.config.min_level_bins)
        # Bins from before the daily profile existed still carry the cycle in their de-seasonalised
        # value; drop them as soon as enough bins without that flaw are at hand.
        seasoned = [r for r in recs if r.daily_n > 0]
        if len(seasoned) >= self.config.min_level_bins:
            recs = seasoned
        values = np.array([r.deseasonalised for r in recs])
        times = np.array([r.time for r in recs])
        return _median(values), _median(times)

    def _slope(self, start: float) -> float:
        cfg = self.config
        recs = self._recent(start - cfg.trend_window_s, 0)
        if len(recs) < 8 or recs[-1].time - recs[0].time < cfg.trend_window_s / 2:
            return 0.0
        times = np.array([r.time for r in recs])
        values = np.array([r.deseasonalised for r in recs])
        split = (times[0] + times[-1]) / 2
        early, late = times < split, times >= split
        if early.sum() < 4 or late.sum() < 4:
            return 0.0
        dt = _median(times[late]) - _median(times[early])
        if dt <= 0:
            return 0.0
        rise = _median(values[late]) - _median(values[early])
        # Shrink toward zero by twice the difference's standard error: a stationary series then gets
        # no slope at all instead of a noisy one extrapolated into every baseline.
        spread = _MAD_TO_SIGMA * _median(np.abs(np.diff(values))) / math.sqrt(2)
        se = 1.2533 * spread * math.sqrt(1 / early.sum() + 1 / late.sum())
        return math.copysign(max(0.0, abs(rise) - 2 * se), rise) / dt

    def _scale(self, start: float) -> float | None:
        recs = self._recent(start - self.config.scale_window_s, 2)
        # Residuals from before there was a (settled) daily profile contain much of the cycle; once
        # enough bins were scored with one, leave the others out or the first days would inflate
        # the scale for days.
        for days in (_WEEKLY_NEEDS_DAYS, 1):
            seasoned = [r for r in recs if r.daily_n >= days]
            if len(seasoned) >= _SCALE_MIN_BINS:
                recs = seasoned
                break
        pooled = np.concatenate([r.abs_resid_q for r in recs])
        if pooled.size < 8:
            return None
        sigma = max(_MAD_TO_SIGMA * _median(pooled), float(np.quantile(pooled, 0.8)) * _Q80_TO_SIGMA)
        # A perfectly constant series has no spread at all; any change from it is anomalous.
        floor = 1e-9 * max(1.0, abs(self._bins[self._order[-1]].clipped))
        return max(sigma, floor)

    def _daily(self, b: int) -> tuple[float, int]:
        samples = self._near(b, lambda c: self._daily_samples(c))
        return (_median(np.array(samples)) if samples else 0.0), len(samples)

    def _weekly(self, b: int, scale: float | None) -> float:
        if scale is None:
            return 0.0
        samples = self._near(b, lambda c: self._weekly_samples(c))
        if len(samples) < 2:
            return 0.0
        w = _median(np.array(samples))
        # Without a weekly pattern these samples are noise; shrink them to zero unless clearly larger.
        threshold = scale / math.sqrt(len(samples))
        return math.copysign(max(0.0, abs(w) - threshold), w)

    @staticmethod
    def _near(b: int, samples_at: Callable[[int], list[float]]) -> list[float]:
        """Samples for bin b; irregular sampling can leave it empty, then its neighbours stand in."""
        out = samples_at(b)
        if len(out) < 2:
            out = out + samples_at(b - 1) + samples_at(b + 1)
        return out

    def _daily_samples(self, b: int) -> list[float]:
        out: list[float] = []
        for k in range(1, self.config.daily_days + 1):
            q = self._seasonal(b - k * self._per_day)
            if q is not None:
                out.append(q)
        return out

    def _weekly_samples(self, b: int) -> list[float]:
        out: list[float] = []
        for k in range(1, self.config.weekly_weeks + 1):
            c = b - k * self._per_week
            rec = self._bins.get(c)
            # What the daily profile missed is only meaningful once there was a daily profile.
            if rec is None or rec.daily_n < _WEEKLY_NEEDS_DAYS:
                continue
            q = self._seasonal(c)
            if q is not None:
                out.append(q - rec.daily)
        return out

    def _seasonal(self, c: int) -> float | None:
        """Bin c's deviation from the level of the day centred on it (memoised once computable)."""
        rec = self._bins.get(c)
        if rec is None:
            return None
        if rec.seasonal_done:
            return rec.seasonal
        half = self._per_day // 2
        if self._open is None or c + half >= self._open:
            return None  # the centred day is not over yet
        window = [self._bins[i] for i in range(c - half, c + half + 1) if i in self._bins]
        rec.seasonal_done = True
        # Sparse sampling leaves most bins empty; what matters is that the day around c is covered
        # on both sides, or the window's centre would not be the level of that day.
        before = sum(1 for w in window if w.time < rec.time)
        after = len(window) - 1 - before
        if before < 3 or after < 3 or min(rec.time - window[0].time, window[-1].time - rec.time) < 0.45 * DAY:
            rec.seasonal = None
        else:
            rec.seasonal = rec.median - _trimmed_mean(np.array([w.median for w in window]), 0.2)
        return rec.seasonal


def score_series(ts: np.ndarray, values: np.ndarray, config: AnomalyConfig | None = None) -> np.ndarray:
    """Anomaly score of every point (NaN where the value is missing), in the input's order.

    Points are processed in time order (stable for equal timestamps), so each score uses only the
    points at or before its own timestamp.
    """
    t = np.asarray(ts, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"ts and values must be 1-D arrays of equal length, got {t.shape} and {v.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("timestamps must be finite")
    order = np.argsort(t, kind="stable")
    scores = np.empty(t.size)
    scores[order] = AnomalyScorer(config).score_many(t[order], v[order])
    return scores


def _squash(z: np.ndarray, mid: float, width: float) -> np.ndarray:
    """Logistic in z, rescaled so that z = 0 maps to exactly 0."""
    at_zero = 1.0 / (1.0 + math.exp(mid / width))
    s = 1.0 / (1.0 + np.exp(-(z - mid) / width))
    return np.clip((s - at_zero) / (1.0 - at_zero), 0.0, 1.0)


def _trimmed_mean(x: np.ndarray, cut: float) -> float:
    """Mean of the middle of the data. Over a day of a cycle, a median is unstable (the values sit
    near the cycle's extremes, few near the middle) while a mean is not robust; this is both."""
    s = np.sort(x)
    k = int(cut * s.size)
    return float(s[k : s.size - k].mean())


def _median(x: np.ndarray) -> float:
    n = x.size
    if n == 0:
        return math.nan
    s = np.sort(x)
    return float(s[(n - 1) // 2] + s[n // 2]) / 2
