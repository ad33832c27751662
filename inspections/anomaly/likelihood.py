"""Anomaly likelihood in [0, 1]: high at the onset of sustained unusual behaviour, low otherwise.

Plain data in (unix-second timestamps and values), scores out. Three stages, each streaming (a score
at t uses only points up to t) and each keeping a fixed amount of state per series:

1. **Baseline** (:class:`_Baseline`). Additive Holt–Winters in error-correction form with two
   levels. The *reference* (a slow level, memory ``reference_points``) plus a daily
   (time-of-day) and a weekly (time-of-week) profile is what the series normally does; the profiles
   learn against it. The *fast* level (memory ``level_points``) follows the de-seasonalised series
   closely, so a spike, a step or a change of spread stands out against it at once, while a slow
   drift or a cycle that stops stands out against the reference. Errors are clipped to
   ``clip_sigmas`` spreads before anything learns from them, so a spike or a burst cannot drag the
   baseline after it; each spread is an exponentially weighted mean absolute error scaled to a
   Gaussian sigma. When ``shift_points`` consecutive points sit more than ``shift_sigmas`` spreads
   to one side, the series has moved: the levels jump to where the points are, so the baseline
   re-learns within minutes instead of alarming for days. From the second day on, a young
   time-of-day bin averages everything it has seen, so a cycle is learnt within days; a weekly bin
   (learnt from the third day) counts only by what it clearly exceeds its own noise by.
2. **Raw score**: how surprising the point is, ``-log10(p)`` scaled to [0, 1] (``surprise_cap``
   decades = 1), where ``p`` is the two-sided Gaussian tail probability of the larger of its two
   errors — or, if higher, the rate at which this series has lately gone that far (exponentially
   weighted counts of |z| past a few ``tail_levels``), so a heavy-tailed or bursty series' routine
   excursions are no surprise while a quiet series' first spike is.
3. **Likelihood** (HTM's anomaly likelihood): the mean raw score of the last ``short_window``
   points is compared with the long-run distribution of that mean (exponentially weighted mean and
   variance over about ``long_window`` points, from points before the current one). The Gaussian
   tail probability of the short mean is log-scaled as HTM does, so that a likelihood of
   1 − 10⁻¹⁰ maps to 1 and one of 0.5 (a short mean at its long-run average) to 0.03. A noisy
   series, whose raw scores are often high, has a wide long-run distribution, so its routine spikes
   stay low, while a single clear spike in a quiet series stands out. After a score reaches
   ``alarm``, the next ``quiet_points`` points are capped at ``quiet_cap``: an anomaly gives one
   high-score run, not hundreds of points.

**Warm-up.** The first ``warmup_points`` points score 0. The baseline's early errors say more about
its youth than about the series, so the likelihood's distribution learns only from the second half
of the warm-up on, and the tail rates likewise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr, ndtri

DAY = 86400.0
WEEK = 7 * DAY
_MEAN_ABS_TO_SIGMA = math.sqrt(math.pi / 2)
_LOG_TINY = math.log(1e-10)  # the likelihood's log scale: a tail probability of 1e-10 is a score of 1


@dataclass(frozen=True)
class AnomalyConfig:
    # Baseline (stage 1)
    level_points: float = 12.0  # the level's memory, in points (the exponential filter's time constant)
    reference_points: float = 288.0  # the slow reference level's memory, in points
    spread_points: float = 144.0  # the spread's memory, in points
    daily_bins: int = 48  # time-of-day profile resolution (30 min)
    weekly_bins: int = 168  # time-of-week profile resolution (1 h)
    season_days: float = 3.0  # how many days (weeks, for the weekly profile) each profile remembers
    weekly_average: float = 0.5  # a young weekly bin averages its points with this weight
    clip_sigmas: float = 3.0
    shift_sigmas: float = 4.0
    shift_points: int = 6
    # Raw score (stage 2)
    surprise_cap: float = 8.0  # decades of tail probability that make a raw score of 1
    tail_levels: tuple[float, ...] = (3.0, 4.0, 5.0, 6.0, 8.0, 12.0)  # |z| whose exceedance rates are learnt
    tail_points: float = 5000.0  # memory of those rates, in points
    # Likelihood (stage 3)
    short_window: int = 5
    long_window: float = 1000.0
    min_spread: float = 0.03  # floor of the long-run spread of the short mean (raw score units)
    warmup_points: int = 300
    alarm: float = 0.35
    quiet_points: int = 200
    quiet_cap: float = 0.1

    def __post_init__(self) -> None:
        if self.short_window < 1 or self.shift_points < 2 or self.daily_bins < 1 or self.weekly_bins < 1:
            raise ValueError("short_window, daily_bins and weekly_bins must be ≥ 1 and shift_points ≥ 2")
        if not 0 < self.alarm < 1 or not 0 <= self.quiet_cap < self.alarm:
            raise ValueError("need 0 < alarm < 1 and 0 ≤ quiet_cap < alarm")


@dataclass
class AnomalyTrace:
    """Per-point detail behind the scores: what was expected, how far off the point was."""

    score: np.ndarray  # likelihood in [0, 1]; NaN where the value is missing
    expected: np.ndarray  # the baseline the point was compared with
    spread: np.ndarray  # the baseline's sigma at that point
    z: np.ndarray  # (value − expected) / spread


@dataclass
class _Baseline:
    """Stage 1 state: level, seasonal profiles, spread and the run of same-side outliers."""

    daily: np.ndarray
    daily_visits: np.ndarray  # points each time-of-day bin has learnt from
    weekly_visits: np.ndarray
    weekly: np.ndarray
    level: float = math.nan
    ref: float = math.nan  # the slow reference level
    spread: float = math.nan  # mean absolute error, not yet scaled to a sigma
    ref_spread: float = math.nan
    seen: int = 0
    step: float = math.nan  # typical seconds between points, for the seasonal learning rates
    last_t: float = math.nan
    born: float = math.nan  # time of the first point
    run_n: int = 0
    run_sum: float = 0.0
    ref_run: int = 0


@dataclass
class _TailRates:
    """Stage 2 state: how often |z| has recently gone past each of the tail levels."""

    levels: np.ndarray
    rates: np.ndarray
    age: int = 0  # points since the rates were last brought up to date
    seen: int = 0


@dataclass
class _Likelihood:
    """Stage 3 state: the last raw scores, the long-run moments of their mean, the quiet period."""

    recent: list[float]
    pos: int = 0
    total: float = 0.0
    mean: float = 0.0
    sq: float = 0.0
    weight: float = 0.0  # of the exponential averages (their bias correction)
    seen: int = 0
    quiet_left: int = 0


@dataclass
class AnomalyScorer:
    """Streaming anomaly likelihood of one series; ``update`` or ``score_many`` in time order."""

    config: AnomalyConfig = field(default_factory=AnomalyConfig)

    def __post_init__(self) -> None:
        cfg = self.config
        self._base = _Baseline(np.zeros(cfg.daily_bins), np.zeros(cfg.daily_bins), np.zeros(cfg.weekly_bins),
                               np.zeros(cfg.weekly_bins))
        levels = np.array(sorted(cfg.tail_levels), dtype=float)
        # Until the series shows otherwise its tails are Gaussian.
        self._tails = _TailRates(levels, 2.0 * np.exp(log_ndtr(-levels)))
        self._like = _Likelihood([0.0] * cfg.short_window)
        self._z_alarm = float(ndtri(1 - math.exp(cfg.alarm * _LOG_TINY)))

    def update(self, ts: float, value: float) -> float:
        """Score one point (NaN for a missing value), then learn from it."""
        return float(self.score_many(np.array([ts], dtype=float), np.array([value], dtype=float))[0])

    def score_many(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self.trace(ts, values).score

    def trace(self, ts: np.ndarray, values: np.ndarray) -> AnomalyTrace:
        """Scores and baseline of points in time order; the same as feeding them one at a time."""
        t = np.asarray(ts, dtype=float)
        v = np.asarray(values, dtype=float)
        if t.shape != v.shape or t.ndim != 1:
            raise ValueError(f"ts and values must be 1-D arrays of equal length, got {t.shape} and {v.shape}")
        if not np.all(np.isfinite(t)):
            raise ValueError("timestamps must be finite unix seconds")
        if t.size and (np.any(np.diff(t) < 0) or (t[0] < self._base.last_t)):
            raise ValueError("points must be in time order; use score_series() for unsorted input")
        expected, spread, z, z_fast = self._baseline(t, v)
        surprise = self._surprise(np.fmax(np.abs(z), np.abs(z_fast)))
        z_like = self._likelihood(surprise)
        score = np.where(np.isnan(z), np.nan, np.clip(log_ndtr(-z_like) / _LOG_TINY, 0.0, 1.0))
        return AnomalyTrace(score, expected, spread, z)

    def state_size(self) -> int:
        """Numbers the scorer keeps, whatever the length of the series so far."""
        b = self._base
        return 2 * (b.daily.size + b.weekly.size + self._tails.rates.size) + len(self._like.recent) + 16

    def _baseline(self, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Stage 1 over a batch, learning as it goes: the reference's expected value, sigma and z of
        every point, and the z of the fast level."""
        cfg, b = self.config, self._base
        n = t.size
        # Python lists and floats: element access on numpy arrays would cost more than the arithmetic.
        expected, spread, z_ref, z_fast = ([math.nan] * n for _ in range(4))
        daily, visits = b.daily.tolist(), b.daily_visits.tolist()
        weekly, weekly_visits = b.weekly.tolist(), b.weekly_visits.tolist()
        n_daily, n_weekly = cfg.daily_bins, cfg.weekly_bins
        a_level, a_ref, a_spread = 1.0 / cfg.level_points, 1.0 / cfg.reference_points, 1.0 / cfg.spread_points
        clip, shift, need = cfg.clip_sigmas, cfg.shift_sigmas, cfg.shift_points
        d_width, w_width = DAY / n_daily, WEEK / n_weekly
        # Seasonal learning rates per second between points, so any sampling step learns as fast.
        d_rate, w_rate = n_daily / (DAY * cfg.season_days), n_weekly / (WEEK * cfg.season_days)
        w_average = cfg.weekly_average
        level, ref, mad, ref_mad, seen, step, last_t = b.level, b.ref, b.spread, b.ref_spread, b.seen, b.step, b.last_t
        born = b.born
        run_n, run_sum, ref_run = b.run_n, b.run_sum, b.ref_run
        for i, (ti, x) in enumerate(zip(t.tolist(), v.tolist(), strict=True)):
            if x != x:
                continue
            if seen == 0:
                level, ref, mad, ref_mad, seen, last_t, born = x, x, 0.0, 0.0, 1, ti, ti
                expected[i], spread[i], z_ref[i], z_fast[i] = x, 0.0, 0.0, 0.0
                continue
            dt = ti - last_t
            step = dt if step != step else step + 0.05 * (dt - step) if dt > 0 else step
            last_t = ti
            di, wi = int(ti // d_width) % n_daily, int(ti // w_width) % n_weekly
            # Bias-corrected while young; a floor so a constant series does not divide by zero.
            young = 1.0 - (1.0 - a_spread) ** seen
            floor = 1e-6 * max(1.0, abs(level))
            sigma = max(_MEAN_ABS_TO_SIGMA * mad / young, floor)
            sigma_ref = max(_MEAN_ABS_TO_SIGMA * ref_mad / young, floor)
            # A weekly bin is the mean of few points; without a weekly pattern it is noise, so it
            # counts only by what it clearly exceeds that noise by.
            w, wn = weekly[wi], weekly_visits[wi]
            noise = 2.0 * sigma_ref / math.sqrt(wn) if wn > 0 else math.inf
            season = daily[di] + (w - noise if w > noise else w + noise if w < -noise else 0.0)
            err, err_ref = x - level - season, x - ref - season
            zi, zr = err / sigma, err_ref / sigma_ref
            expected[i], spread[i], z_ref[i], z_fast[i] = ref + season, sigma_ref, zr, zi
            seen += 1
            # The reference has been off to one side for a while: the series has moved (or drifted)
            # for good, so the reference catches up with the fast level instead of alarming on.
            ref_run = ref_run + 1 if (zr > shift or zr < -shift) else 0
            if ref_run >= need:
                ref, ref_run = level, 0
            if zi > shift or zi < -shift:
                same_side = run_n > 0 and (run_sum > 0) == (err > 0)
                run_n, run_sum = (run_n + 1, run_sum + err) if same_side else (1, err)
                if run_n >= need:
                    level += run_sum / run_n
                    ref, ref_run = level, 0
                    run_n, run_sum = 0, 0.0
                    continue
            else:
                run_n, run_sum = 0, 0.0
            limit = clip * sigma
            e = limit if err > limit else -limit if err < -limit else err
            limit_ref = clip * sigma_ref
            e_ref = limit_ref if err_ref > limit_ref else -limit_ref if err_ref < -limit_ref else err_ref
            level += a_level * e
            ref += max(a_ref, 1.0 / seen) * e_ref  # a running mean while young
            if step == step and step > 0:
                # The profiles learn against the slow reference: the fast level follows much of a
                # cycle itself, so what it leaves over is not the cycle.
                gain = min(0.5, step * d_rate)
                age = ti - born
                if age >= DAY:
                    # From the second day on (the reference is a day's mean by then), a young bin
                    # averages everything it has seen: the cycle is learnt within days, not weeks.
                    visits[di] += 1.0
                    gain = max(gain, 1.0 / visits[di])
                daily[di] += gain * e_ref
                if age >= 2 * DAY:  # what the daily profile cannot explain, once there is one
                    weekly_visits[wi] += 1.0
                    slow = min(0.5, step * w_rate)
                    weekly[wi] += max(slow, w_average / weekly_visits[wi]) * e_ref
            mad += a_spread * (abs(e) - mad)
            ref_mad += a_spread * (abs(e_ref) - ref_mad)
        b.level, b.ref, b.spread, b.ref_spread, b.seen, b.step, b.last_t = level, ref, mad, ref_mad, seen, step, last_t
        b.run_n, b.run_sum, b.ref_run, b.born = run_n, run_sum, ref_run, born
        b.daily[:], b.daily_visits[:], b.weekly[:], b.weekly_visits[:] = daily, visits, weekly, weekly_visits
        return np.array(expected), np.array(spread), np.array(z_ref), np.array(z_fast)

    def _surprise(self, z: np.ndarray) -> np.ndarray:
        """Stage 2 over a batch: −log10 of how unlikely each |z| is, as a fraction of ``surprise_cap``
        decades. The probability is the Gaussian tail, or the rate at which this series has lately
        gone past the tail level below |z| if that is higher: a heavy-tailed series' routine
        excursions are no surprise."""
        cfg, tails = self.config, self._tails
        with np.errstate(invalid="ignore"):
            decades = -(math.log(2.0) + log_ndtr(-z)) / math.log(10.0)
        levels, rates = tails.levels, tails.rates
        keep, gain = 1.0 - 1.0 / cfg.tail_points, 1.0 / cfg.tail_points
        age, prev = tails.age, -1
        # While the baseline is young its errors say little about the series' tails.
        young = max(0, min(z.size, cfg.warmup_points // 2 - tails.seen))
        tails.seen += z.size
        exceeding = young + np.nonzero(np.nan_to_num(z[young:], nan=0.0) >= levels[0])[0]
        past = np.searchsorted(levels, z[exceeding], side="right")  # levels each exceedance went past
        for i, k in zip(exceeding.tolist(), past.tolist(), strict=True):
            rates *= keep ** (age + i - prev - 1)
            decades[i] = min(decades[i], -math.log10(rates[k - 1]))
            rates *= keep
            rates[:k] += gain
            age, prev = 0, i
        tails.age = age + z.size - 1 - prev
        return np.clip(decades / cfg.surprise_cap, 0.0, 1.0)

    def _likelihood(self, surprise: np.ndarray) -> np.ndarray:
        """Stage 3 over a batch: z of the short-window mean of raw scores against its long-run spread."""
        cfg, s = self.config, self._like
        out = [-math.inf] * surprise.size
        recent, width = s.recent, cfg.short_window
        pos, total, mean, sq, weight, seen, quiet_left = s.pos, s.total, s.mean, s.sq, s.weight, s.seen, s.quiet_left
        alpha, floor, z_alarm, quiet_z = 1.0 / cfg.long_window, cfg.min_spread**2, self._z_alarm, self._quiet_z()
        # The first points' raw scores mostly say that the baseline is still young; learn from later ones.
        learn_from = max(width, cfg.warmup_points // 2)
        for i, r in enumerate(surprise.tolist()):
            if r != r:
                out[i] = math.nan
                continue
            total += r - recent[pos]
            recent[pos] = r
            pos = (pos + 1) % width
            seen += 1
            short = total / width
            if seen > cfg.warmup_points:
                m = mean / weight
                var = max(sq / weight - m * m, floor)
                zl = (short - m) / math.sqrt(var)
                if quiet_left > 0:
                    quiet_left -= 1
                    zl = min(zl, quiet_z)
                elif zl >= z_alarm:
                    quiet_left = cfg.quiet_points
                out[i] = zl
            if seen >= learn_from:
                if weight > 0.1:
                    # An anomaly is not normal: keep it from widening the distribution it is judged by.
                    m = mean / weight
                    short = min(short, m + 3.0 * math.sqrt(max(sq / weight - m * m, floor)))
                mean += alpha * (short - mean)
                sq += alpha * (short * short - sq)
                weight += alpha * (1.0 - weight)
        s.pos, s.total, s.mean, s.sq, s.weight, s.seen, s.quiet_left = pos, total, mean, sq, weight, seen, quiet_left
        return np.array(out)

    def _quiet_z(self) -> float:
        cap = self.config.quiet_cap
        return -math.inf if cap <= 0 else float(ndtri(1 - math.exp(cap * _LOG_TINY)))


def analyse_series(ts: np.ndarray, values: np.ndarray, config: AnomalyConfig | None = None) -> AnomalyTrace:
    """:class:`AnomalyTrace` of every point, in the input's order (processed in time order)."""
    t = np.asarray(ts, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"ts and values must be 1-D arrays of equal length, got {t.shape} and {v.shape}")
    order = np.argsort(t, kind="stable")
    tr = AnomalyScorer(config or AnomalyConfig()).trace(t[order], v[order])
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return AnomalyTrace(tr.score[back], tr.expected[back], tr.spread[back], tr.z[back])


def score_series(ts: np.ndarray, values: np.ndarray, config: AnomalyConfig | None = None) -> np.ndarray:
    """Anomaly likelihood of every point (NaN where the value is missing), in the input's order."""
    return analyse_series(ts, values, config).score
