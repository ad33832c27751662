"""Time-to-limit forecasts: when will a series cross its limit, with an uncertainty band.

Plain data in (unix-second timestamps and values as numpy arrays), a :class:`Forecast` out. The method,
in the order the code applies it (values are first turned around for a "down" series, so that the
limit is always approached from below):

1. **Buckets.** Points are reduced to one robust value per ``bucket_s`` (median, 1 h by default), so
   sampling rate and single spikes do not matter and a 14-day window is a few hundred points.
2. **Level shifts.** Sudden, lasting steps are found by comparing the medians of the buckets either
   side of every boundary, against both white noise and the statistic's own robust spread (so a slow
   wander is not mistaken for a step). They are searched twice: on the raw buckets and again once the
   daily cycle is removed, so small cleanups hidden by a large daily swing are found too. Steps that
   belong to a cycle are then set aside: a rise that recurs a week or a day earlier or later (the
   weekday-only morning ramp of a business-hours load), and a drop that recurs a week apart and is
   undone by a rise within half a week (the edges of a weekend lull). A weekly purge that frees space
   for good, or a daily log rotation, stays a drop.
3. **Daily cycle.** Each segment between shifts is detrended with a centred one-day moving average
   (exact for a linear trend, blind to a daily cycle); the per-time-of-day medians of what remains
   form a profile, kept when a chi-square test says it is more than noise. The profile is subtracted
   before fitting and added back when projecting, so the forecast says when the daily *peaks* reach
   the limit — the moment an operator cares about. Without a significant cycle the fit window is
   trimmed to whole days, so a cycle too weak to detect cannot tilt the slope much either.
4. **Young series.** Between one and three days of history the profile cannot be estimated yet, and
   half a cycle looks exactly like a trend. The slope then comes only from pairs of buckets a whole
   number of days apart, and the last day's detrended shape stands in for the profile.
5. **Drops and steps.** A drop away from the limit (a cleanup, a log rotation, a restarted leaking
   process) starts a new trend — unless the growth after it is statistically the same as before, in
   which case only the level changed. A step toward the limit (a copied-in file) changes the level, not
   the growth. Whenever only the level changed, the data before the step is shifted by the estimated
   step and fitted together with the data after it.
6. **Kinks.** A change of growth rate (a leak that starts, a log that turns verbose) is found with a
   continuous two-piece least-squares fit and a significance test corrected for autocorrelation; the
   fit then starts at the kink. A weekly cycle hides a kink from that fit (its residuals are a
   week-long wave), so a speed-up is also looked for week over week: differences of buckets exactly
   7 days apart cancel the daily and weekly cycles, and growth that speeds up by ``c`` at ``t_k``
   turns them from a constant into the ramp ``c·clip(t − t_k, 0, 7 d)``; that ramp is tested against
   a straight line with the same sup-F statistic (where a weekend lull was found, the differences may
   reach back past the last drop). The later of the two kinks wins — only speed-ups count here, so
   the fit only ever moves to steeper, earlier-crossing growth. Where a weekend lull was found but no
   kink can be placed (the speed-up is older than the differences reach), and the week-averaged growth
   rates ``(y(t) − y(t − 7 d)) / 7 d`` rise significantly, the newest of them — a cautious estimate
   of today's rate while growth only speeds up — replaces the fitted slope when steeper.
7. **Robust slope and band.** Theil–Sen slope (``scipy.stats.theilslopes``) on the remaining buckets.
   The band is Sen's rank-based confidence interval widened by sqrt(n / n_eff) for autocorrelated
   residuals, plus the uncertainty of the level and of the daily peak; ``eta_low`` uses the steep end
   of the slope interval, ``eta_high`` the shallow end. It is never narrower than one bucket.
8. **Accelerating growth.** A quadratic trend over the segment replaces the line when, fitted without
   the newest quarter of the segment, it predicts that quarter with less than half the line's error
   and its curvature exceeds six standard errors (autocorrelation allowed for). The eta then solves
   the curve, and the slope reported is today's rate.

The limit counts as reached when the median of the newest three buckets has reached it, so one
noisy bucket past the limit is not taken for a full disk.

A crossing is only claimed when the whole slope interval points toward the limit and the crossing is
within ``max_extrapolation`` (5) times the span of data the fit rests on; otherwise ``eta`` is ``None``
and ``reason`` says why (too little data, flat or moving away, not significant, too far to
extrapolate). Before ``min_history_s`` (one day) nothing is claimed at all.

Streaming safety: :func:`forecast` ignores points after ``now``; :class:`Forecaster` keeps closed
buckets incrementally (bounded by the lookback window, 14 days) so a long series evaluated every hour
costs O(lookback) per evaluation, gives the same answers as :func:`forecast`, and refuses to go back
in time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy import stats

from inspections.catalogue import Direction, limit_of

HOUR = 3600.0
DAY = 86400.0
# 1.4826 turns a median absolute deviation into a normal sigma; 1.2533 is the noise inflation of a
# median relative to a mean for normal data.
_MAD_TO_SIGMA = 1.4826
_MEDIAN_SE = 1.2533
# Days of history after which a missing daily profile means "no daily cycle" rather than "too early
# to tell" (the profile needs two full days of centred one-day averages).
_PROFILE_DAYS = 3


@dataclass(frozen=True)
class ForecastConfig:
    """Tuning of the forecaster. The defaults suit capacity series sampled every few seconds to an hour."""

    bucket_s: float = HOUR
    lookback_s: float = 14 * DAY
    min_history_s: float = DAY
    min_fit_span_s: float = 6 * HOUR
    min_fit_buckets: int = 6
    # Two-sided coverage of the eta band; a crossing needs the whole slope interval to point at the limit.
    confidence: float = 0.9
    # No eta further out than this many times the span of data the fit is based on.
    max_extrapolation: float = 5.0
    # A level shift must exceed this many standard errors of the before/after medians.
    shift_sigmas: float = 7.0
    shift_window: int = 3
    # Significance of a kink: sup-F statistic (after autocorrelation correction) it must exceed.
    kink_f: float = 60.0
    # Theil–Sen on at most this many points (buckets are merged beyond it): its cost grows with n².
    max_fit_points: int = 120
    # Accelerating growth: a quadratic trend replaces the line when, fitted without the newest
    # `curve_holdout` share of the segment, it predicts that share with less than `curve_error_ratio`
    # of the line's error, and its curvature exceeds `curve_sigmas` standard errors.
    curve_min_span_s: float = 3 * DAY
    curve_holdout: float = 0.25
    curve_error_ratio: float = 0.5
    curve_sigmas: float = 6.0

    def __post_init__(self) -> None:
        if self.bucket_s <= 0 or self.lookback_s <= 0:
            raise ValueError("bucket_s and lookback_s must be positive")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"confidence must be in [0.5, 1), got {self.confidence}")


@dataclass(frozen=True)
class Forecast:
    """When the series is expected to reach ``limit``; times are unix seconds (UTC)."""

    now: float
    limit: float
    direction: Direction
    eta: float | None
    eta_low: float | None
    eta_high: float | None
    reason: str
    # Trend in series units per second (signed, as the series moves), and its band.
    slope: float | None = None
    slope_low: float | None = None
    slope_high: float | None = None
    # Trend value at ``now`` with the daily cycle removed.
    level: float | None = None
    # How far the daily peaks reach beyond the trend toward the limit (0 without a daily cycle).
    seasonal_peak: float = 0.0
    fit_start: float | None = None
    n_points: int = 0
    change_point: float | None = None
    horizon_s: float | None = None

    @property
    def ok(self) -> bool:
        """True when a crossing is expected (``eta`` is set)."""
        return self.eta is not None

    @property
    def time_left_s(self) -> float | None:
        return None if self.eta is None else max(0.0, self.eta - self.now)

    def alert(self, horizon_s: float | None = None) -> bool:
        """True when the limit is expected within ``horizon_s`` (default: the horizon given to forecast)."""
        horizon = self.horizon_s if horizon_s is None else horizon_s
        if horizon is None:
            raise ValueError("alert() needs a horizon: pass horizon_s here or to forecast()")
        return self.eta is not None and self.eta - self.now <= horizon

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for tickets and the API."""
        return {
            "now": self.now,
            "limit": self.limit,
            "direction": self.direction,
            "eta": self.eta,
            "eta_low": self.eta_low,
            "eta_high": self.eta_high,
            "reason": self.reason,
            "slope_per_day": None if self.slope is None else self.slope * DAY,
            "slope_low_per_day": None if self.slope_low is None else self.slope_low * DAY,
            "slope_high_per_day": None if self.slope_high is None else self.slope_high * DAY,
            "level": self.level,
            "seasonal_peak": self.seasonal_peak,
            "fit_start": self.fit_start,
            "n_points": self.n_points,
            "change_point": self.change_point,
        }


# --------------------------------------------------------------------------------------------------
# Public entry points


def forecast(
    ts: np.ndarray,
    values: np.ndarray,
    limit: float,
    direction: Direction = "up",
    now: float | None = None,
    horizon_s: float | None = None,
    config: ForecastConfig | None = None,
) -> Forecast:
    """Forecast when ``values`` (at unix seconds ``ts``) reach ``limit`` moving ``direction``.

    Points after ``now`` (default: the last timestamp) are ignored, as are non-finite values.
    """
    cfg = config or ForecastConfig()
    _check_direction(direction)
    t = np.asarray(ts, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"ts and values must be 1-D arrays of equal length, got {t.shape} and {v.shape}")
    keep = np.isfinite(t) & np.isfinite(v)
    t, v = t[keep], v[keep]
    if now is None:
        if t.size == 0:
            raise ValueError("forecast() of an empty series needs an explicit `now`")
        now = float(t.max())
    keep = t <= now
    t, v = t[keep], v[keep]
    first_ts = float(t.min()) if t.size else None
    start_idx = math.floor((now - cfg.lookback_s) / cfg.bucket_s)
    idx = np.floor(t / cfg.bucket_s).astype(np.int64)
    keep = idx >= start_idx
    bidx, btime, bmed = bucketize(t[keep], v[keep], cfg.bucket_s)
    return _forecast_buckets(bidx, btime, bmed, first_ts, float(now), limit, direction, horizon_s, cfg)


class Forecaster:
    """Incremental forecaster for one series: feed points in time order, ask for forecasts as you go.

    Only closed buckets inside the lookback window and the points of the open bucket are kept, so
    memory and time per :meth:`forecast` are bounded by the lookback, not by the series length.
    Results equal :func:`forecast` on all points up to ``now``.
    """

    def __init__(self, limit: float, direction: Direction = "up", config: ForecastConfig | None = None):
        _check_direction(direction)
        self.limit = float(limit)
        self.direction: Direction = direction
        self.config = config or ForecastConfig()
        self._idx: list[int] = []
        self._time: list[float] = []
        self._med: list[float] = []
        self._open_idx: int | None = None
        self._open_t: list[float] = []
        self._open_v: list[float] = []
        self._first_ts: float | None = None
        self._last_ts: float | None = None

    def update(self, ts: float, value: float) -> None:
        """Add one point (non-finite values are ignored as missing).

        Points must come in time order, except within the newest bucket (late arrivals from the same
        hour are fine); closed buckets are final.
        """
        if not (math.isfinite(ts) and math.isfinite(value)):
            return
        b = math.floor(ts / self.config.bucket_s)
        if self._open_idx is not None and b < self._open_idx:
            raise ValueError(
                f"point at {ts} is older than the newest {self.config.bucket_s:g} s bucket; feed points in time order"
            )
        if self._open_idx is not None and b > self._open_idx:
            self._close_bucket()
        self._open_idx = b
        self._open_t.append(float(ts))
        self._open_v.append(float(value))
        self._first_ts = ts if self._first_ts is None else min(self._first_ts, ts)
        self._last_ts = ts if self._last_ts is None else max(self._last_ts, ts)

    def extend(self, ts: np.ndarray, values: np.ndarray) -> None:
        for t, v in zip(np.asarray(ts, dtype=float), np.asarray(values, dtype=float), strict=True):
            self.update(float(t), float(v))

    def forecast(self, now: float | None = None, horizon_s: float | None = None) -> Forecast:
        """Forecast at ``now`` (default: the last point) from the points given so far."""
        if now is None:
            if self._last_ts is None:
                raise ValueError("no data yet: pass `now` or feed points first")
            now = self._last_ts
        if self._last_ts is not None and now < self._last_ts:
            raise ValueError(
                f"now={now} is before the last point given ({self._last_ts}); forecast at or after the newest data"
            )
        cfg = self.config
        start_idx = math.floor((now - cfg.lookback_s) / cfg.bucket_s)
        self._prune(start_idx)
        idx = list(self._idx)
        times = list(self._time)
        meds = list(self._med)
        if self._open_idx is not None and self._open_idx >= start_idx:
            oi, ot, om = bucketize(np.array(self._open_t), np.array(self._open_v), cfg.bucket_s)
            idx.append(int(oi[0]))
            times.append(float(ot[0]))
            meds.append(float(om[0]))
        return _forecast_buckets(
            np.array(idx, dtype=np.int64),
            np.array(times, dtype=float),
            np.array(meds, dtype=float),
            self._first_ts,
            float(now),
            self.limit,
            self.direction,
            horizon_s,
            cfg,
        )

    def _close_bucket(self) -> None:
        oi, ot, om = bucketize(np.array(self._open_t), np.array(self._open_v), self.config.bucket_s)
        self._idx.append(int(oi[0]))
        self._time.append(float(ot[0]))
        self._med.append(float(om[0]))
        self._open_t.clear()
        self._open_v.clear()

    def _prune(self, start_idx: int) -> None:
        drop = 0
        while drop < len(self._idx) and self._idx[drop] < start_idx:
            drop += 1
        if drop:
            del self._idx[:drop], self._time[:drop], self._med[:drop]


def capacity_limit(
    series_name: str,
    labels: Mapping[str, str] | None = None,
    latest_values: Mapping[str, float] | None = None,
) -> tuple[float, Direction] | None:
    """The (limit, direction) a series of the metric catalogue runs into, or None if it has none.

    ``latest_values`` holds the newest values of sibling series with the same labels (for example
    ``{"disk.total_bytes": 5e11}``); absolute "used" series need their total from it and give None
    without. ``labels`` are accepted for symmetry with the catalogue; no limit depends on them today.
    """
    del labels  # limits do not depend on mount, device or filesystem type
    return limit_of(series_name, latest_values)


def bucketize(ts: np.ndarray, values: np.ndarray, bucket_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per epoch-aligned bucket: (bucket index, mid-time of its points, median value), sorted by time.

    The mid-time is ``(first + last) / 2`` rather than a mean so that the result does not depend on
    summation order — incremental and batch callers get bit-identical buckets.
    """
    if ts.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
    idx = np.floor(ts / bucket_s).astype(np.int64)
    order = np.lexsort((values, idx))
    idx_s, v_s = idx[order], values[order]
    uniq, start, counts = np.unique(idx_s, return_index=True, return_counts=True)
    med = (v_s[start + (counts - 1) // 2] + v_s[start + counts // 2]) / 2
    t_order = np.lexsort((ts, idx))
    t_s = ts[t_order]
    mid = (t_s[start] + t_s[start + counts - 1]) / 2
    return uniq, mid, med


# --------------------------------------------------------------------------------------------------
# The method. Everything below works on "normalised" values that move *up* toward the limit: a
# "down" series is negated on the way in and its slope negated on the way out.


@dataclass
class _Fit:
    slope: float
    slope_low: float
    slope_high: float
    level: float
    level_se: float
    sigma: float  # robust scale of the residuals
    start: float
    n_points: int
    note: str = ""
    # Half the second derivative of the trend (units per s²): the trend is
    # level + slope (t - now) + curvature (t - now)²; 0 for a straight line.
    curvature: float = 0.0


@dataclass
class _Profile:
    values: np.ndarray  # per time-of-day bucket, mean zero, normalised units
    per_day: int
    peak_se: float  # uncertainty of the peak height, for the band

    @property
    def peak(self) -> float:
        return float(self.values.max())

    def at(self, t: np.ndarray, bucket_s: float) -> np.ndarray:
        """Circular linear interpolation between bucket centres."""
        pos = (t % DAY) / bucket_s - 0.5
        lo = np.floor(pos).astype(np.int64)
        frac = pos - lo
        v = self.values
        return v[lo % self.per_day] * (1 - frac) + v[(lo + 1) % self.per_day] * frac


@dataclass
class _State:
    """What the steps have learned so far; turned into a Forecast at the end."""

    now: float
    limit: float
    direction: Direction
    horizon_s: float | None
    n_points: int
    profile: _Profile | None = None
    change_point: float | None = None
    # Whether steps recurring a week apart (a weekend lull) were found.
    weekly_cycle: bool = False


def _forecast_buckets(
    bidx: np.ndarray,
    btime: np.ndarray,
    bmed: np.ndarray,
    first_ts: float | None,
    now: float,
    limit: float,
    direction: Direction,
    horizon_s: float | None,
    cfg: ForecastConfig,
) -> Forecast:
    sign = 1.0 if direction == "up" else -1.0
    y = bmed * sign
    lim = float(limit) * sign
    st = _State(now, float(limit), direction, horizon_s, int(bidx.size))

    def none(reason: str, fit: _Fit | None = None) -> Forecast:
        return _result(st, sign, None, None, None, reason, fit)

    if bidx.size == 0 or first_ts is None:
        return none("no data in the lookback window")
    # The newest buckets, not the newest one alone: a single noisy bucket past the limit is not a
    # full disk, while two of the last three are.
    recent = _median(y[-cfg.shift_window :])
    if recent >= lim:
        return _result(st, sign, now, now, now, "limit already reached", None, level=recent)
    history = now - first_ts
    if history < cfg.min_history_s or bidx.size < cfg.min_fit_buckets:
        return none(
            f"too little data: {history / HOUR:.1f} h and {bidx.size} buckets; need "
            f"{cfg.min_history_s / HOUR:.0f} h to tell a trend from a daily cycle"
        )

    shifts = _level_shifts(y, cfg.shift_sigmas, cfg.shift_window)
    st.profile = _daily_profile(bidx, y, shifts, cfg.bucket_s)
    z = y - st.profile.at(btime, cfg.bucket_s) if st.profile is not None else y
    if st.profile is not None:
        shifts = np.union1d(shifts, _level_shifts(z, cfg.shift_sigmas, cfg.shift_window))
    cyclic = _without_weekly_steps(bidx, z, shifts, cfg)
    st.weekly_cycle = cyclic.size < shifts.size
    shifts = cyclic

    per_day = _buckets_per_day(cfg.bucket_s)
    young = st.profile is None and per_day is not None and bidx[-1] - bidx[0] < _PROFILE_DAYS * per_day
    # A series too short to know whether it has a daily cycle gets a method a cycle cannot fool.
    fit = _young_fit(bidx, btime, y, shifts, st, cfg) if young else _fit_trend(bidx, btime, z, shifts, st, cfg)
    if isinstance(fit, str):
        return none(fit)
    peak = st.profile.peak if st.profile is not None else 0.0
    if fit.level + peak < lim:
        if fit.slope <= 0:
            return none("no crossing expected: flat or moving away from the limit", fit)
        if fit.slope_low <= 0:
            return none(
                f"no crossing expected: trend toward the limit is not significant at "
                f"{cfg.confidence:.0%} (slope band includes zero)",
                fit,
            )
    span = max(now - fit.start, cfg.min_fit_span_s)
    reach = now + cfg.max_extrapolation * span
    eta = _first_crossing(now, fit.level, fit.slope, st.profile, lim, cfg.bucket_s, fit.curvature)
    if eta is None:
        return none("no crossing expected: flat or moving away from the limit", fit)
    if eta > reach:
        return none(
            f"no crossing expected within {cfg.max_extrapolation:g}× the fitted span ({(reach - now) / DAY:.1f} d)",
            fit,
        )
    peak_se = st.profile.peak_se if st.profile is not None else 0.0
    delta = NormalDist().inv_cdf(0.5 + cfg.confidence / 2) * math.hypot(fit.level_se, peak_se)
    steep, shallow = max(fit.slope_high, fit.slope), min(fit.slope_low, fit.slope)
    eta_low = _first_crossing(now, fit.level + delta, steep, st.profile, lim, cfg.bucket_s, fit.curvature)
    eta_high = _first_crossing(now, fit.level - delta, shallow, st.profile, lim, cfg.bucket_s, fit.curvature)
    # Buckets are the time resolution of the fit: the band is never narrower than one.
    eta_low = max(now, min(eta if eta_low is None else eta_low, eta) - cfg.bucket_s / 2)
    eta_high = reach if eta_high is None else min(max(eta_high, eta) + cfg.bucket_s / 2, reach)
    reason = "crossing expected" + (f" ({fit.note})" if fit.note else "")
    return _result(st, sign, eta, eta_low, eta_high, reason, fit)


def _result(
    st: _State,
    sign: float,
    eta: float | None,
    eta_low: float | None,
    eta_high: float | None,
    reason: str,
    fit: _Fit | None,
    level: float | None = None,
) -> Forecast:
    slope = slope_low = slope_high = None
    fit_start = None
    if fit is not None:
        level = fit.level
        fit_start = fit.start
        lo, hi = fit.slope_low * sign, fit.slope_high * sign
        slope, slope_low, slope_high = fit.slope * sign, min(lo, hi), max(lo, hi)
    peak = st.profile.peak if st.profile is not None else 0.0
    return Forecast(
        now=st.now,
        limit=st.limit,
        direction=st.direction,
        eta=eta,
        eta_low=eta_low,
        eta_high=eta_high,
        reason=reason,
        slope=slope,
        slope_low=slope_low,
        slope_high=slope_high,
        level=None if level is None else level * sign,
        seasonal_peak=peak,
        fit_start=fit_start,
        n_points=fit.n_points if fit is not None else st.n_points,
        change_point=st.change_point,
        horizon_s=st.horizon_s,
    )


def _young_fit(
    bidx: np.ndarray,
    btime: np.ndarray,
    y: np.ndarray,
    shifts: np.ndarray,
    st: _State,
    cfg: ForecastConfig,
) -> _Fit | str:
    """Trend of a series too young to estimate a daily profile (one to three days).

    The slope comes only from pairs of buckets a whole number of days apart, which a daily cycle
    cannot bias; the last day of detrended data stands in for the profile, so its peaks — whether a
    cycle or noise — are what is projected to the limit. That errs early, never late.
    """
    per_day = _buckets_per_day(cfg.bucket_s)
    assert per_day is not None
    seg = int(shifts[-1]) if shifts.size else 0
    if shifts.size:
        st.change_point = float(btime[seg])
    idx, t, yy = bidx[seg:], btime[seg:], y[seg:]
    slopes, mids = _day_lag_slopes(idx, t, yy, per_day)
    if slopes.size < cfg.min_fit_buckets:
        return (
            "too little data to tell a trend from a daily cycle: need a day plus "
            f"{cfg.min_fit_buckets} h of data" + (" since the last level shift" if shifts.size else "")
        )
    order = np.argsort(mids)
    slopes = slopes[order]
    slope = _median(slopes)
    n_eff = _effective_n(slopes - slope)
    zq = NormalDist().inv_cdf(0.5 + cfg.confidence / 2)
    se = _MEDIAN_SE * _robust_sigma(slopes) / math.sqrt(n_eff)
    last_day = t >= st.now - DAY
    d = yy[last_day] - slope * (t[last_day] - st.now)
    level = _median(d)
    noise = _robust_sigma(np.diff(d)) / math.sqrt(2) if d.size > 2 else 0.0
    prof = np.zeros(per_day)
    prof[idx[last_day] % per_day] = d - level
    smooth = 0.25 * np.roll(prof, 1) + 0.5 * prof + 0.25 * np.roll(prof, -1)
    st.profile = _Profile(smooth - smooth.mean(), per_day, _MEDIAN_SE * noise)
    level += float(smooth.mean())
    level_se = _MEDIAN_SE * noise / math.sqrt(max(1.0, d.size))
    return _Fit(
        slope, slope - zq * se, slope + zq * se, level, level_se, noise, float(t[0]), int(t.size), "young series"
    )


def _day_lag_slopes(idx: np.ndarray, t: np.ndarray, y: np.ndarray, per_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Slopes (and mid-times) of all pairs of buckets exactly k whole days apart."""
    slopes: list[np.ndarray] = []
    mids: list[np.ndarray] = []
    for k in range(1, int((idx[-1] - idx[0]) // per_day) + 1):
        target = idx + k * per_day
        j = np.searchsorted(idx, target)
        ok = j < idx.size
        ok[ok] = idx[j[ok]] == target[ok]
        if ok.any():
            jj = j[ok]
            slopes.append((y[jj] - y[ok]) / (t[jj] - t[ok]))
            mids.append((t[jj] + t[ok]) / 2)
    if not slopes:
        return np.empty(0), np.empty(0)
    return np.concatenate(slopes), np.concatenate(mids)


def _buckets_per_day(bucket_s: float) -> int | None:
    per_day = round(DAY / bucket_s)
    if abs(per_day * bucket_s - DAY) > 1e-6 or per_day < 4 or per_day % 2:
        return None
    return per_day


def _fit_trend(
    bidx: np.ndarray,
    btime: np.ndarray,
    z: np.ndarray,
    shifts: np.ndarray,
    st: _State,
    cfg: ForecastConfig,
) -> _Fit | str:
    """Trend since the last drop (cleanup), across steps toward the limit; a string says why there is none.

    A drop away from the limit (a cleanup, a rotation, a restart) starts a new trend — unless the
    growth after it is consistent with the growth before, in which case only the level changed and
    both are fitted together (which also carries the old rate over while the new segment is too
    short to have one). A step toward the limit (a copied-in file) changes the level, not the growth.
    Either way, data before a level-only step is shifted by the estimated step and fitted with the
    data after it.
    """
    signs = _shift_signs(z, shifts, cfg.shift_window)
    drops, rises = shifts[signs < 0], shifts[signs > 0]
    if shifts.size:
        st.change_point = float(btime[shifts[-1]])
    note = ""
    if drops.size and _same_growth_across(btime, z, drops, rises, st.now, cfg):
        rises = np.union1d(rises, drops[-1:])
        drops = drops[:-1]
        note = "growth rate unchanged by the last drop"
    zc = _remove_rises(btime, z, rises, drops, cfg)
    seg_start = int(drops[-1]) if drops.size else 0
    if z.size - seg_start < cfg.min_fit_buckets or st.now - btime[seg_start] < cfg.min_fit_span_s:
        return "too little data since the last drop"
    start = seg_start + _kink_start(btime[seg_start:], zc[seg_start:], st.now, cfg)
    # The week-over-week comparison needs the week before the kink. Where a weekend lull was found
    # (so the last drop may be a lull edge missed as such) it may reach back past the last drop;
    # only a kink after the drop is used.
    lo = 0 if st.weekly_cycle else seg_start
    weekly = _weekly_kink(bidx[lo:], btime[lo:], zc[lo:], st.now, cfg)
    weekly = None if weekly is None else lo + weekly
    if weekly is not None and weekly > start:
        start = weekly
        note = ", ".join(filter(None, [note, "growth sped up (week-over-week)"]))
    if st.profile is None and st.now - btime[start] >= DAY:
        # No detectable daily cycle: still fit whole days only, so a weak undetected cycle cannot tilt
        # the slope.
        whole_days = math.floor((st.now - btime[start]) / DAY)
        start = max(start, int(np.searchsorted(btime, st.now - whole_days * DAY)))
    fit = _theil_sen(btime[start:], zc[start:], st.now, cfg)
    fit.note = note
    if weekly is None and st.weekly_cycle:
        fit = _week_rate_fit(bidx[seg_start:], btime[seg_start:], zc[seg_start:], st.now, fit, cfg) or fit
    curved = _accelerating_fit(btime[seg_start:], zc[seg_start:], st.now, fit, cfg)
    return fit if curved is None else curved


def _accelerating_fit(t: np.ndarray, y: np.ndarray, now: float, line: _Fit, cfg: ForecastConfig) -> _Fit | None:
    """A quadratic trend over the whole segment when growth is speeding up, else None (keep ``line``).

    The curve must earn its place out of sample: fitted to the older part of the segment, it has to
    predict the newest part much better than the straight line fitted to the same older data, and
    its curvature must be significant once the residuals' autocorrelation is allowed for. Only
    acceleration toward the limit is modelled; growth that slows down is left to the kink search,
    whose fit then starts where the slower growth began.
    """
    n = t.size
    if line.slope <= 0 or n < 4 * cfg.min_fit_buckets or now - t[0] < cfg.curve_min_span_s:
        return None
    x = (t - now) / DAY  # days, for conditioning
    cut = n - max(cfg.min_fit_buckets, round(n * cfg.curve_holdout))
    older = x < x[cut]
    line_older = older & (t >= line.start)
    if line_older.sum() < cfg.min_fit_buckets:
        line_older = older & (x >= x[cut] - (now - line.start) / DAY)
    if line_older.sum() < 3:
        return None
    # The cheap test first: the whole segment's curvature must stand out from the noise.
    coef, cov = np.polyfit(x, y, 2, cov=True)
    curvature, slope, level = (float(c) for c in coef)
    resid = y - np.polyval(coef, x)
    inflate = math.sqrt(n / _effective_n(resid - float(np.mean(resid))))
    se = np.sqrt(np.diag(cov)) * inflate
    if curvature <= 0 or curvature < cfg.curve_sigmas * float(se[0]):
        return None
    curve_older = np.polyfit(x[older], y[older], 2)
    lx, ly = x[line_older], y[line_older]
    if lx.size > cfg.max_fit_points:
        lx, ly = _merge_points(lx, ly, math.ceil(lx.size / cfg.max_fit_points))
    line_older_fit = stats.theilslopes(ly, lx)
    newer_x, newer_y = x[~older], y[~older]
    curve_err = float(np.median(np.abs(newer_y - np.polyval(curve_older, newer_x))))
    line_err = float(np.median(np.abs(newer_y - (line_older_fit.intercept + line_older_fit.slope * newer_x))))
    if not (curve_older[0] > 0 and curve_err < cfg.curve_error_ratio * line_err):
        return None
    zq = NormalDist().inv_cdf(0.5 + cfg.confidence / 2)
    return _Fit(
        slope=slope / DAY,
        slope_low=(slope - zq * float(se[1])) / DAY,
        slope_high=(slope + zq * float(se[1])) / DAY,
        level=level,
        level_se=float(se[2]),
        sigma=_robust_sigma(resid),
        start=float(t[0]),
        n_points=int(n),
        note=", ".join(filter(None, [line.note, "accelerating growth"])),
        curvature=curvature / (DAY * DAY),
    )


def _same_growth_across(
    btime: np.ndarray, z: np.ndarray, drops: np.ndarray, rises: np.ndarray, now: float, cfg: ForecastConfig
) -> bool:
    """Whether the segments either side of the last drop grow at a statistically compatible rate.

    A new segment too short for a slope of its own counts as compatible: until it has one, the rate
    from before the drop is the best available.
    """
    last = int(drops[-1])
    prev = int(drops[-2]) if drops.size > 1 else 0
    if last - prev < cfg.min_fit_buckets or btime[last - 1] - btime[prev] < cfg.min_fit_span_s:
        return False
    zc = _remove_rises(btime, z, rises, drops, cfg)
    before = _theil_sen(btime[prev:last], zc[prev:last], now, cfg)
    if z.size - last < cfg.min_fit_buckets or now - btime[last] < cfg.min_fit_span_s:
        return True
    after = _theil_sen(btime[last:], zc[last:], now, cfg)
    return after.slope_low <= before.slope_high and before.slope_low <= after.slope_high


def _shift_signs(y: np.ndarray, shifts: np.ndarray, width: int) -> np.ndarray:
    """+1 for a step up, -1 for a step down, from the medians either side of each shift."""
    out = np.empty(shifts.size)
    for k, b in enumerate(shifts):
        after = _median(y[b : b + width])
        before = _median(y[max(0, b - width) : b])
        out[k] = 1.0 if after >= before else -1.0
    return out


def _remove_rises(
    btime: np.ndarray, z: np.ndarray, rises: np.ndarray, drops: np.ndarray, cfg: ForecastConfig
) -> np.ndarray:
    """``z`` with each step up undone, so that every drop-free segment continues its newest level."""
    if rises.size == 0:
        return z
    zc = z.copy()
    bounds = [0, *[int(d) for d in drops], z.size]
    for a, b in itertools.pairwise(bounds):
        inner = [int(r) for r in rises if a < r < b]
        if not inner:
            continue
        subs = list(itertools.pairwise([a, *inner, b]))
        slope = _pooled_slope(btime, z, subs, cfg.max_fit_points)
        offsets = [_median(z[p:q] - slope * btime[p:q]) for p, q in subs]
        for (p, q), off in zip(subs, offsets, strict=True):
            zc[p:q] += offsets[-1] - off
    return zc


def _pooled_slope(t: np.ndarray, y: np.ndarray, subs: list[tuple[int, int]], max_points: int) -> float:
    """One growth rate for segments that differ only in level: their Theil–Sen slopes, weighted by pairs."""
    slopes: list[float] = []
    weights: list[float] = []
    for p, q in subs:
        tt, yy = t[p:q], y[p:q]
        if tt.size > max_points:
            tt, yy = _merge_points(tt, yy, math.ceil(tt.size / max_points))
        if tt.size >= 2 and tt[-1] > tt[0]:
            slopes.append(float(stats.theilslopes(yy, tt).slope))
            weights.append(tt.size * (tt.size - 1) / 2)
    return float(np.average(slopes, weights=weights)) if slopes else 0.0


def _theil_sen(t: np.ndarray, y: np.ndarray, now: float, cfg: ForecastConfig) -> _Fit:
    """Theil–Sen slope with Sen's confidence interval, widened for autocorrelated residuals."""
    start = float(t[0])
    n_points = int(t.size)
    if t.size > cfg.max_fit_points:
        t, y = _merge_points(t, y, math.ceil(t.size / cfg.max_fit_points))
    n = t.size
    if n >= 3:
        res = stats.theilslopes(y, t - now, alpha=cfg.confidence)
        slope, q_lo, q_hi = float(res.slope), float(res.low_slope), float(res.high_slope)
    else:
        slope = float((y[-1] - y[0]) / (t[-1] - t[0])) if n == 2 and t[-1] > t[0] else 0.0
        q_lo, q_hi = -math.inf, math.inf
    resid = y - slope * (t - now)
    level = _median(resid)
    e = resid - level
    sigma = _robust_sigma(e)
    n_eff = _effective_n(e)
    # Sen's rank interval assumes independent points; sqrt(n / n_eff) is the usual variance-inflation
    # factor for autocorrelated ones.
    inflate = math.sqrt(n / n_eff)
    slope_low = slope - (slope - q_lo) * inflate
    slope_high = slope + (q_hi - slope) * inflate
    level_se = _MEDIAN_SE * sigma / math.sqrt(max(n_eff, 1.0))
    return _Fit(slope, slope_low, slope_high, level, level_se, sigma, start, n_points)


def _merge_points(t: np.ndarray, y: np.ndarray, group: int) -> tuple[np.ndarray, np.ndarray]:
    """Medians of consecutive groups, keeping the newest point's group complete."""
    # Groups are anchored at the newest point so that the points nearest `now` are never a ragged tail.
    n = t.size
    offset = n % group
    head_t, head_y = t[:offset], y[:offset]
    body_t = t[offset:].reshape(-1, group)
    body_y = y[offset:].reshape(-1, group)
    tt = body_t.mean(axis=1)
    yy = np.median(body_y, axis=1)
    if offset:
        tt = np.concatenate(([head_t.mean()], tt))
        yy = np.concatenate(([_median(head_y)], yy))
    return tt, yy


def _effective_n(e: np.ndarray) -> float:
    """n shrunk for lag-1 autocorrelation: n (1 - rho) / (1 + rho)."""
    n = e.size
    if n < 4:
        return float(n)
    denom = float(np.dot(e, e))
    if denom <= 0:
        return float(n)
    rho = float(np.dot(e[1:], e[:-1])) / denom
    # The lag-1 estimate is biased low on short series (Marriott–Pope: about -(1 + 4 rho) / n); a slow
    # wander fitted over a day would otherwise pass for a significant trend.
    rho = rho + (1 + 4 * rho) / n
    rho = min(max(rho, 0.0), 0.95)
    return max(3.0, n * (1 - rho) / (1 + rho))


def _median(x: np.ndarray) -> float:
    """Median of a 1-D array; np.median's generality costs more than the sort on these small arrays."""
    n = x.size
    if n == 0:
        return math.nan
    s = np.sort(x)
    return float(s[(n - 1) // 2] + s[n // 2]) / 2


def _robust_sigma(x: np.ndarray) -> float:
    if x.size == 0:
        return 0.0
    return _MAD_TO_SIGMA * _median(np.abs(x - _median(x)))


def _window_medians(padded: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Median of each length-``width`` window of ``padded``, ignoring NaN padding."""
    w = np.lib.stride_tricks.sliding_window_view(padded, width)
    s = np.sort(w, axis=1)  # NaN sorts last
    count = np.sum(~np.isnan(w), axis=1)
    lo = np.clip((count - 1) // 2, 0, width - 1)
    hi = np.clip(count // 2, 0, width - 1)
    rows = np.arange(s.shape[0])
    return (s[rows, lo] + s[rows, hi]) / 2, count


def _level_shifts(y: np.ndarray, k_sigma: float, width: int) -> np.ndarray:
    """Indices b where a lasting level shift begins (``y[b]`` is the first value at the new level).

    The statistic compares the median of up to ``width`` buckets after a boundary with the median of
    up to ``width`` before it, minus the typical drift, in standard errors of the noise. The noise is
    estimated from first differences, which a smooth daily cycle barely affects.
    """
    n = y.size
    if n < 4:
        return np.empty(0, dtype=np.int64)
    d = np.diff(y)
    drift = _median(d)
    sigma = _robust_sigma(d) / math.sqrt(2)
    sigma = max(sigma, 1e-9 * float(np.max(np.abs(y))), 1e-12)
    nan = np.full(width, np.nan)
    padded = np.concatenate((nan, y, nan))
    med, cnt = _window_medians(padded, width)
    b = np.arange(1, n)
    before, n_before = med[b], cnt[b]
    after, n_after = med[b + width], cnt[b + width]
    shift = after - before - drift * (n_before + n_after) / 2
    se = _MEDIAN_SE * sigma * np.sqrt(1 / n_before + 1 / n_after)
    # A slow wander moves the before/after medians apart much more than white noise would; the
    # spread of the statistic itself (robust, so real steps do not count) covers that case.
    full = (n_before == width) & (n_after == width)
    if full.sum() >= 8:
        se = np.maximum(se, _robust_sigma(shift[full]))
    score = shift / se
    hits = np.nonzero(np.abs(score) >= k_sigma)[0]
    # Neighbouring boundaries see the same step through overlapping windows: keep the strongest of
    # each run of adjacent same-signed hits.
    found: list[int] = []
    run_start = 0
    for k in range(1, hits.size + 1):
        if k < hits.size and hits[k] == hits[k - 1] + 1 and (score[hits[k]] > 0) == (score[hits[k - 1]] > 0):
            continue
        run = hits[run_start:k]
        found.append(int(b[run[int(np.argmax(np.abs(score[run])))]]))
        run_start = k
    return np.array(found, dtype=np.int64)


def _without_weekly_steps(bidx: np.ndarray, z: np.ndarray, shifts: np.ndarray, cfg: ForecastConfig) -> np.ndarray:
    """``shifts`` less the steps that belong to a cycle: a weekend lull's edges, a weekday-only rise.

    The weekend lull of a business-hours load is a step down on Friday evening and a step up on
    Monday morning, every week; and a weekday-only morning ramp is a rise the daily profile (a
    median over weekdays and weekend days) only partly explains. Taken for level shifts they would
    start a new trend at every weekend and undo every morning's rise, flattening real growth; they
    are left to the week-over-week comparison of the kink search instead.

    A step *recurs* when, 7 days (for a rise also 1 day) before or after, give or take two buckets,
    the series stepped the same way by at least half as much. A recurring rise is a cycle. A
    recurring drop is one only when it is undone: a rise of at least half its size follows within
    half a week, after it or after its echo — a lull. A weekly purge that frees space for good, or
    a daily log rotation, stays a drop and still starts a new trend.
    """
    per_day = _buckets_per_day(cfg.bucket_s)
    n = z.size
    w = cfg.shift_window
    if per_day is None or shifts.size == 0 or n < 2 * w + 1:
        return shifts
    week = 7 * per_day
    # steps[j]: median of the w buckets from j on minus the median of the w buckets before j.
    windows = np.median(np.lib.stride_tricks.sliding_window_view(z, w), axis=1)
    steps = np.full(n, np.nan)
    steps[w : n - w + 1] = windows[w:] - windows[: n - 2 * w + 1]

    def near(b: int, lag: int) -> int | None:
        """Array index of the bucket ``lag`` buckets from bucket ``b`` (±2), or None."""
        target = int(bidx[b]) + lag
        j = int(np.searchsorted(bidx, target))
        if j < n and abs(int(bidx[j]) - target) <= 2:
            return j
        return None

    def echoes(j: int, step: float) -> bool:
        e = steps[max(0, j - 2) : j + 3]
        return bool(np.any(np.isfinite(e) & (e * step > 0) & (np.abs(e) >= 0.5 * abs(step))))

    def undone(j: int, size: float) -> bool:
        end = near(j, per_day * 7 // 2)
        e = steps[j + 1 : n if end is None else end + 1]
        return bool(np.any(np.isfinite(e) & (e >= 0.5 * size)))

    keep: list[int] = []
    for b in (int(s) for s in shifts):
        step = float(steps[b])
        cyclic = False
        if math.isfinite(step):
            lags = (week, per_day) if step > 0 else (week,)
            for lag in (sign * lag for lag in lags for sign in (-1, 1)):
                j = near(b, lag)
                if j is None or not echoes(j, step):
                    continue
                if step > 0 or undone(b, -step) or undone(j, -step):
                    cyclic = True
                    break
        if not cyclic:
            keep.append(b)
    return np.array(keep, dtype=np.int64)


def _daily_profile(
    bidx: np.ndarray,
    y: np.ndarray,
    shifts: np.ndarray,
    bucket_s: float,
) -> _Profile | None:
    """Significant time-of-day profile of the series, or None.

    Each segment between level shifts is detrended with a centred one-day moving average (the
    classic 2×24 filter): it removes a daily cycle exactly, follows a linear trend exactly, and a
    change of growth rate only disturbs the half-day around it. The profile is the per-time-of-day
    median of what remains, kept when a chi-square test says it is more than noise.
    """
    per_day = _buckets_per_day(bucket_s)
    if per_day is None:
        return None
    bounds = [0, *[int(s) for s in shifts], y.size]
    tods: list[np.ndarray] = []
    resids: list[np.ndarray] = []
    for s, e in itertools.pairwise(bounds):
        if e - s <= per_day or bidx[e - 1] - bidx[s] < per_day + 1:
            continue
        centre, resid = _detrend_one_day(bidx[s:e], y[s:e], per_day)
        resids.append(resid)
        tods.append(centre % per_day)
    if not resids:
        return None
    tod = np.concatenate(tods)
    r = np.concatenate(resids)
    counts = np.bincount(tod, minlength=per_day)
    if counts.min() < 2:
        return None
    order = np.lexsort((r, tod))
    r_s = r[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    prof = (r_s[starts + (counts - 1) // 2] + r_s[starts + counts // 2]) / 2
    noise = _robust_sigma(r - prof[tod])
    if noise <= 0:
        noise = 1e-12 + 1e-9 * float(np.max(np.abs(y)))
    centred = prof - prof.mean()
    se = _MEDIAN_SE * noise / np.sqrt(counts)
    chi = float(np.sum((centred / se) ** 2))
    dof = per_day - 1
    if chi < dof + 5 * math.sqrt(2 * dof):
        return None
    # Light circular smoothing: per-bucket medians are noisy and the profile's maximum is what the
    # forecast projects, so noise there would pull every eta earlier. The band allows for both the
    # noise and what the smoothing shaves off the peak.
    smooth = 0.25 * np.roll(centred, 1) + 0.5 * centred + 0.25 * np.roll(centred, -1)
    top = int(np.argmax(smooth))
    peak_se = float(se[top]) + max(0.0, float(centred.max() - smooth.max()))
    return _Profile(smooth - smooth.mean(), per_day, peak_se)


def _detrend_one_day(idx: np.ndarray, y: np.ndarray, per_day: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket indices, y minus its centred 2×per_day moving average) where the window is complete."""
    lo = int(idx[0])
    dense = np.full(int(idx[-1]) - lo + 1, np.nan)
    dense[idx - lo] = y
    half = per_day // 2
    weights = np.ones(per_day + 1)
    weights[0] = weights[-1] = 0.5
    windows = np.lib.stride_tricks.sliding_window_view(dense, per_day + 1)
    ma = windows @ weights / per_day  # NaN wherever a bucket in the window is missing
    centre_pos = np.arange(half, half + ma.size)
    resid = dense[centre_pos] - ma
    ok = np.isfinite(resid)
    return centre_pos[ok] + lo, resid[ok]


def _kink_start(t: np.ndarray, y: np.ndarray, now: float, cfg: ForecastConfig) -> int:
    """Index where the growth rate last changed significantly (0 when it did not)."""
    n = t.size
    min_span = max(cfg.min_fit_span_s, 2 * cfg.bucket_s * cfg.min_fit_buckets)
    if n < 4 * cfg.min_fit_buckets or t[-1] - t[0] < 2 * min_span:
        return 0
    cand = np.nonzero((t - t[0] >= min_span) & (now - t >= min_span))[0]
    if cand.size == 0:
        return 0
    if cand.size > 64:
        cand = cand[np.linspace(0, cand.size - 1, 64).round().astype(int)]
    tc = (t - t[0]) / DAY
    yw = _winsorise(tc, y)
    # Rounding-level residuals of an exact line must not look like a huge relative improvement.
    floor = n * (1e-7 * float(np.max(np.abs(y))) + 1e-12) ** 2
    rss0 = max(_line_rss(tc, yw), floor)
    rss, beta = _hinge_rss(tc, yw, cand)
    best = int(np.argmin(rss))
    rss1 = float(rss[best])
    if not math.isfinite(rss1):
        return 0
    rss1 = max(rss1, floor)
    f_stat = (rss0 - rss1) / (rss1 / (n - 3))
    b0, b1, b2 = beta[best]
    resid = yw - (b0 + b1 * tc + b2 * np.maximum(0.0, tc - tc[cand[best]]))
    rho = _lag1_rho(resid)
    if f_stat * (1 - rho) / (1 + rho) < cfg.kink_f:
        return 0
    return int(cand[best])


def _week_pairs(bidx: np.ndarray, cfg: ForecastConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices (later, earlier) of all pairs of buckets exactly 7 days apart, or None."""
    per_day = _buckets_per_day(cfg.bucket_s)
    if per_day is None:
        return None
    back = bidx - 7 * per_day
    j = np.searchsorted(bidx, back)
    ok = j < bidx.size
    ok[ok] = bidx[j[ok]] == back[ok]
    return np.nonzero(ok)[0], j[ok]


def _week_rate_fit(
    bidx: np.ndarray, t: np.ndarray, y: np.ndarray, now: float, line: _Fit, cfg: ForecastConfig
) -> _Fit | None:
    """The last week's growth, from pairs of buckets 7 days apart, when it is rising and beats ``line``.

    Differences a week apart cancel the daily and the weekly cycle; divided by 7 days, the difference
    ending at ``t`` is the average growth rate over the week before ``t``. When those week-averaged
    rates rise significantly (growth sped up, but too long ago or too gradually for the kink search
    to place it), the newest one is a cautious estimate of today's rate — the rate has only been
    rising — and replaces the slope of ``line`` when steeper. Its band comes from the robust scatter
    of the differences about their trend, widened for autocorrelation; the level is the median over
    the last week of the data less that trend.
    """
    pairs = _week_pairs(bidx, cfg)
    if pairs is None or pairs[0].size < 4 * cfg.min_fit_buckets:
        return None
    later, earlier = pairs
    td = t[later]
    if td[-1] - td[0] < DAY:
        return None
    lag = t[later] - t[earlier]
    rate = (y[later] - y[earlier]) / lag
    x = td - now
    tt, rr = x, rate
    if x.size > cfg.max_fit_points:
        tt, rr = _merge_points(x, rate, math.ceil(x.size / cfg.max_fit_points))
    res = stats.theilslopes(rr, tt, alpha=cfg.confidence)
    resid = rr - (res.intercept + res.slope * tt)
    inflate = math.sqrt(rr.size / _effective_n(resid - _median(resid)))
    if res.slope - (res.slope - res.low_slope) * inflate <= 0:
        return None  # week-averaged growth is not rising significantly
    now_rate = float(res.intercept) + _median(resid)
    sigma = _robust_sigma(resid)
    n_eff = _effective_n(resid - _median(resid))
    zq = NormalDist().inv_cdf(0.5 + cfg.confidence / 2)
    se = _MEDIAN_SE * sigma / math.sqrt(n_eff)
    if now_rate - zq * se <= line.slope:
        return None
    last_week = t >= now - 7 * DAY
    d = y[last_week] - now_rate * (t[last_week] - now)
    level = _median(d)
    e = d - level
    level_se = _MEDIAN_SE * _robust_sigma(e) / math.sqrt(_effective_n(e))
    return _Fit(
        now_rate,
        now_rate - zq * se,
        now_rate + zq * se,
        level,
        level_se,
        _robust_sigma(e),
        float(t[last_week][0]),
        int(last_week.sum()),
        ", ".join(filter(None, [line.note, "growth sped up (week-over-week rate)"])),
    )


def _weekly_kink(bidx: np.ndarray, t: np.ndarray, y: np.ndarray, now: float, cfg: ForecastConfig) -> int | None:
    """Index where growth last sped up, judged week over week; None without a significant speed-up.

    A weekly cycle (busy weekdays, a weekend lull) hides a kink from the two-piece fit: its residuals
    are a week-long wave. The differences ``y(t) - y(t - 7 d)`` of buckets exactly a week apart cancel
    any weekly (and daily) cycle; growth at rate ``r`` makes them ``7 r``, and growth that speeds up by
    ``c`` at ``t_k`` adds the ramp ``c clip(t - t_k, 0, 7 d)``. That ramp against a constant is tested
    like the two-piece fit (sup-F over candidate ``t_k``, corrected for autocorrelation).
    """
    pairs = _week_pairs(bidx, cfg)
    if pairs is None:
        return None
    later, earlier = pairs
    n = later.size
    min_span = max(cfg.min_fit_span_s, 2 * cfg.bucket_s * cfg.min_fit_buckets)
    if n < 4 * cfg.min_fit_buckets:
        return None
    td = t[later]
    d = y[later] - y[earlier]
    if td[-1] - td[0] < 2 * min_span:
        return None
    cand = np.nonzero((td - td[0] >= min_span) & (now - td >= min_span))[0]
    if cand.size == 0:
        return None
    x = (td - td[0]) / DAY
    dw = _winsorise(x, d)
    floor = n * (1e-7 * float(np.max(np.abs(y))) + 1e-12) ** 2
    dc = dw - dw.mean()
    # The null is a straight line, not a constant: a kink before the first difference (a leak older
    # than the differences reach back) makes them one long ramp, which says nothing about when.
    rss0 = max(_line_rss(x, dw), floor)
    ramp = np.clip(x[None, :] - x[cand][:, None], 0.0, 7.0)
    rc = ramp - ramp.mean(axis=1, keepdims=True)
    sxx = np.einsum("ij,ij->i", rc, rc)
    sxy = rc @ dc
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(sxx > 0, sxy * sxy / sxx, 0.0)
    # Only a speed-up toward the limit: a slowdown would make forecasts later, and is left to the
    # ordinary kink search.
    gain = np.where(sxy > 0, gain, 0.0)
    best = int(np.argmax(gain))
    if gain[best] <= 0:
        return None
    rss1 = max(float(np.dot(dc, dc)) - float(gain[best]), floor)
    if rss1 >= rss0:
        return None
    f_stat = (rss0 - rss1) / (rss1 / (n - 2))
    resid = dc - sxy[best] / sxx[best] * rc[best]
    rho = _lag1_rho(resid)
    if f_stat * (1 - rho) / (1 + rho) < cfg.kink_f:
        return None
    return int(later[cand[best]])


def _winsorise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y`` clipped at 3 robust sigmas around a robust line, so a few odd buckets cannot fake a kink."""
    slope0 = _quick_slope(x, y)
    base = y - slope0 * x
    mid = _median(base)
    sig = _robust_sigma(base) or 1e-12
    return slope0 * x + np.clip(base, mid - 3 * sig, mid + 3 * sig)


def _lag1_rho(resid: np.ndarray) -> float:
    """Lag-1 autocorrelation of residuals, clipped to [0, 0.95], for the kink tests' F correction."""
    denom = float(np.dot(resid, resid))
    if denom <= 0:
        return 0.0
    return min(max(float(np.dot(resid[1:], resid[:-1])) / denom, 0.0), 0.95)


def _line_rss(t: np.ndarray, y: np.ndarray) -> float:
    tm, ym = t.mean(), y.mean()
    sxx = float(np.sum((t - tm) ** 2))
    sxy = float(np.sum((t - tm) * (y - ym)))
    syy = float(np.sum((y - ym) ** 2))
    return syy - (sxy * sxy / sxx if sxx > 0 else 0.0)


def _hinge_rss(t: np.ndarray, y: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fits of ``b0 + b1 t + b2 max(0, t - t_k)`` for every candidate k at once.

    The normal equations need only suffix sums, so all candidates cost O(n + K) instead of O(n K).
    """
    n = t.size
    # Centre for numerical conditioning; RSS and the hinge position are unaffected.
    tm, ym = t.mean(), y.mean()
    t = t - tm
    y = y - ym

    def suffix(a: np.ndarray) -> np.ndarray:
        return np.cumsum(a[::-1])[::-1]

    c0, c1, c2 = suffix(np.ones(n))[cand], suffix(t)[cand], suffix(t * t)[cand]
    cy, cty = suffix(y)[cand], suffix(t * y)[cand]
    tk = t[cand]
    sh = c1 - tk * c0
    shh = c2 - 2 * tk * c1 + tk * tk * c0
    sth = c2 - tk * c1
    shy = cty - tk * cy
    k = cand.size
    xtx = np.empty((k, 3, 3))
    xtx[:, 0, 0] = n
    xtx[:, 0, 1] = xtx[:, 1, 0] = 0.0  # sum of centred t
    xtx[:, 1, 1] = float(np.sum(t * t))
    xtx[:, 0, 2] = xtx[:, 2, 0] = sh
    xtx[:, 1, 2] = xtx[:, 2, 1] = sth
    xtx[:, 2, 2] = shh
    xty = np.empty((k, 3))
    xty[:, 0] = 0.0  # sum of centred y
    xty[:, 1] = float(np.sum(t * y))
    xty[:, 2] = shy
    try:
        beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.full(k, np.inf), np.zeros((k, 3))
    rss = float(np.sum(y * y)) - np.sum(beta * xty, axis=1)
    # Back to uncentred coefficients: b0 absorbs the centring of t and y; the hinge knot moves with t.
    b0 = beta[:, 0] + ym - beta[:, 1] * tm
    return rss, np.stack((b0, beta[:, 1], beta[:, 2]), axis=1)


def _quick_slope(t: np.ndarray, y: np.ndarray) -> float:
    """Robust slope from the medians of the first and last thirds (cheap, for winsorising only)."""
    k = max(1, t.size // 3)
    dt = _median(t[-k:]) - _median(t[:k])
    if dt <= 0:
        return 0.0
    return (_median(y[-k:]) - _median(y[:k])) / dt


def _first_crossing(
    now: float,
    level: float,
    slope: float,
    profile: _Profile | None,
    limit: float,
    bucket_s: float,
    curvature: float = 0.0,
) -> float | None:
    """First t >= now where level + slope (t - now) + curvature (t - now)² + profile(t) >= limit."""
    if not (math.isfinite(level) and math.isfinite(slope)):
        return None
    peak = profile.peak if profile is not None else 0.0
    gap = limit - level - peak
    if gap <= 0:
        t0 = now
    elif curvature > 0:
        # The positive root of curvature x² + slope x - gap = 0, written to stay exact as curvature → 0.
        t0 = now + 2 * gap / (slope + math.sqrt(slope * slope + 4 * curvature * gap))
    elif slope <= 0:
        return None
    else:
        t0 = now + gap / slope
    if profile is None:
        return t0
    if t0 - now > 1e6 * DAY:
        return t0
    # The trend plus the peak reaches the limit at t0, so the curve itself first does at or after t0
    # and, while the trend keeps rising, no later than the next daily peak.
    step = min(300.0, bucket_s / 4)
    grid = t0 + np.arange(0.0, DAY + step, step)
    x = grid - now
    curve = level + slope * x + curvature * x * x + profile.at(grid, bucket_s)
    above = np.nonzero(curve >= limit)[0]
    if above.size == 0:
        return None if slope <= 0 else float(grid[-1])
    k = int(above[0])
    if k == 0:
        return float(grid[0])
    # Linear interpolation inside the step for a smooth, grid-independent eta.
    c0, c1 = curve[k - 1], curve[k]
    frac = (limit - c0) / (c1 - c0) if c1 != c0 else 1.0
    return float(grid[k - 1] + frac * step)


def _check_direction(direction: str) -> None:
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
