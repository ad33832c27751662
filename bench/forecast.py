"""Forecast quality: our forecaster against Prometheus' predict_linear and Zabbix's timeleft.

    .venv/bin/python bench/forecast.py [--quick] [--seeds N] [--family NAME] [--step S] [--jobs N]

Generates 28-day capacity series (sampled every 10 min by default) with known crossing times — linear,
noisy with a slowly wandering component and spikes, heavy wandering noise with frequent spikes, daily
cycles, cleanups followed by regrowth, weekly purges that free less than the week added, steps toward
the limit, growth that speeds up at a kink or keeps accelerating, leaks that start midway, memory
falling toward zero with restarts, memory leaks on a business-week load (weekday daytime activity, a
weekend lull) that start a few days before memory runs out — and series that never cross: noise with
wander, large daily cycles, log-rotation sawtooth, growth months away from the limit, growth that
stops on a plateau after a step. The truth is the first crossing of the noise-free signal (daily peaks included).

Ours runs exactly as the predictions job behind forecast tickets runs it
(``collector.predictions.service.forecast_capacity``): at each instant the store's answer to its query — the last
14 days as 10-minute averages of the 1-minute rollups — goes through
``collector.predictions.service.rollup_forecast_points`` into ``inspections.forecast.forecast``. Every method is
evaluated hourly in streaming fashion — at instant t it sees only samples up to t — with a 7-day
horizon:

- lead time: from the first alert of the final uninterrupted run of alerts before the true crossing
  (counting only instants at most one horizon before it) to the crossing; 0 when never alerted;
- recall@24h: share of crossing series with a lead time of at least 24 h;
- relative ETA error: |eta − truth| / (truth − t) at instants where the crossing is within the
  horizon; an instant without an eta counts as 1.0;
- false-alarm rate: share of never-crossing series that alerted at least once;
- band coverage (ours only): share of those instants whose [eta_low, eta_high] holds the truth;
- CPU time per ``forecast()`` call (ours only).

Baselines, as an operator would configure them:
- ``predict_linear``: least squares over the last 6 h, extrapolated from its value at t;
- ``timeleft``: least squares over the whole 14-day lookback window.
Neither alerts during the first day, like ours, so that their false alarms come from the method and
not from the first hours of a series.

Per-family figures come first; the headline figures are the last lines, one per line, as name=value.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from collector.predictions.service import rollup_forecast_points
from inspections.forecast import DAY, HOUR, Direction, forecast

HORIZON = 7 * DAY
EVERY = HOUR
STEP = 600.0  # sampling interval of the generated series
WARMUP = DAY  # no baseline alerts before a day of history, like ours
# The predictions job's query (collector.predictions.service.forecast_capacity): 14 days of 10-minute averages
# from the 1-minute rollup tier.
LOOKBACK = 14 * DAY
ROLLUP_STEP = 600.0
ROLLUP_1M = 60.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % DAY)


@dataclass
class Series:
    family: str
    seed: int
    t: np.ndarray
    y: np.ndarray  # observed (noisy)
    limit: float
    direction: Direction
    truth: float | None  # first crossing of the noise-free signal, None if it never crosses


@dataclass
class Outcome:
    """One method on one series: per evaluation instant, (t, eta, eta_low, eta_high, alert)."""

    times: np.ndarray
    eta: np.ndarray  # NaN = no crossing expected
    eta_low: np.ndarray
    eta_high: np.ndarray
    alert: np.ndarray


@dataclass
class Scores:
    leads_h: list[float] = field(default_factory=list)
    rel_errors: list[float] = field(default_factory=list)
    covered: list[bool] = field(default_factory=list)
    false_alarms: list[bool] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Series families. Each returns (times, noise-free signal, observed signal, limit, direction).

Family = tuple[np.ndarray, np.ndarray, np.ndarray, float, Direction]


def _grid(days: float) -> np.ndarray:
    return T0 + np.arange(0.0, days * DAY, STEP)


def _ar_noise(rng: np.random.Generator, n: int, sigma: float, rho: float) -> np.ndarray:
    e = rng.normal(0.0, sigma * math.sqrt(1 - rho * rho), n)
    out = np.empty(n)
    acc = rng.normal(0.0, sigma)
    for i in range(n):
        acc = rho * acc + e[i]
        out[i] = acc
    return out


def _daily(t: np.ndarray, amplitude: float, phase: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * (t % DAY) / DAY + phase)


def fam_linear(rng: np.random.Generator) -> Family:
    t = _grid(28)
    cross_day = rng.uniform(10, 26)
    base = rng.uniform(20, 60)
    clean = base + (100 - base) / cross_day * (t - T0) / DAY
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.5), t.size), 100.0, "up"


def _noisy_trend(
    rng: np.random.Generator,
    base: tuple[float, float],
    wander: tuple[float, float],
    rho: float,
    white: tuple[float, float],
    spike_rate: float,
    spike: tuple[float, float],
) -> Family:
    """A line crossing 100 between days 12 and 26 under AR(1) wander, white noise and upward spikes."""
    t = _grid(28)
    cross_day = rng.uniform(12, 26)
    start = rng.uniform(*base)
    clean = start + (100 - start) / cross_day * (t - T0) / DAY
    noise = _ar_noise(rng, t.size, rng.uniform(*wander), rho) + rng.normal(0, rng.uniform(*white), t.size)
    spikes = rng.random(t.size) < spike_rate
    noise[spikes] += rng.uniform(*spike, int(spikes.sum()))
    return t, clean, clean + noise, 100.0, "up"


def fam_noisy(rng: np.random.Generator) -> Family:
    """Slow wander and occasional spikes (a backup's temp files) that come and go within the hour."""
    return _noisy_trend(rng, (20, 50), (1.0, 3.0), 0.995, (0.5, 2.0), 0.003, (5, 15))


def fam_daily(rng: np.random.Generator) -> Family:
    t = _grid(28)
    cross_day = rng.uniform(10, 26)
    amp = rng.uniform(3, 15)
    base = rng.uniform(20, 50)
    trend = base + (100 - amp - base) / cross_day * (t - T0) / DAY
    clean = trend + _daily(t, amp, rng.uniform(0, 2 * np.pi))
    return t, clean, clean + rng.normal(0, rng.uniform(0.3, 1.5), t.size), 100.0, "up"


def fam_cleanup(rng: np.random.Generator) -> Family:
    t = _grid(28)
    d = (t - T0) / DAY
    last_cleanup = rng.uniform(6, 14)
    cleanups = sorted({last_cleanup, *rng.uniform(2, last_cleanup - 1, rng.integers(0, 3))})
    rate = rng.uniform(2.0, 5.0)
    level = rng.uniform(30, 50)
    clean = np.empty(t.size)
    start = 0.0
    for k, c in enumerate([*cleanups, math.inf]):
        seg = (d >= start) & (d < c)
        clean[seg] = level + rate * (d[seg] - start)
        if math.isfinite(c):
            at_cleanup = level + rate * (c - start)
            level = at_cleanup - rng.uniform(0.3, 0.6) * (at_cleanup - 10)
            start = c
            if k == len(cleanups) - 1:
                # The new trend may grow faster or slower than the old one.
                rate = rng.uniform(1.5, 6.0)
                rate = max(rate, (100 - level) / (27 - c))
    clean = clean + _daily(t, rng.uniform(0, 4), rng.uniform(0, 6.3))
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.0), t.size), 100.0, "up"


def fam_step(rng: np.random.Generator) -> Family:
    t = _grid(28)
    d = (t - T0) / DAY
    step_day = rng.uniform(5, 16)
    step = rng.uniform(8, 20)
    cross_day = rng.uniform(step_day + 3, 27)
    base = rng.uniform(20, 40)
    rate = (100 - base - step) / cross_day
    clean = base + rate * d + np.where(d >= step_day, step, 0.0)
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.0), t.size), 100.0, "up"


def fam_kink(rng: np.random.Generator) -> Family:
    """Slow growth that speeds up (a log turned verbose, a new tenant) and then crosses."""
    t = _grid(28)
    d = (t - T0) / DAY
    kink = rng.uniform(6, 16)
    base = rng.uniform(20, 50)
    rate1 = rng.uniform(0.2, 1.5)
    at_kink = base + rate1 * kink
    rate2 = (100 - at_kink) / rng.uniform(4, 11)
    clean = np.where(d < kink, base + rate1 * d, at_kink + rate2 * (d - kink))
    clean = clean + _daily(t, rng.uniform(0, 5), rng.uniform(0, 6.3))
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.0), t.size), 100.0, "up"


def fam_leak(rng: np.random.Generator) -> Family:
    """Memory available, flat until a leak starts, then falling to zero (direction down)."""
    t = _grid(28)
    d = (t - T0) / DAY
    start = rng.uniform(4, 14)
    cross_day = start + rng.uniform(5, 12)
    total = 16e9
    avail0 = rng.uniform(0.4, 0.7) * total
    clean = avail0 - avail0 / (cross_day - start) * np.maximum(0.0, d - start)
    clean = clean + _daily(t, rng.uniform(0, 0.05) * total, rng.uniform(0, 6.3))
    return t, clean, clean + rng.normal(0, 0.01 * total, t.size), 0.0, "down"


def fam_restart(rng: np.random.Generator) -> Family:
    """A leaking process restarted now and then (jumps up), finally left to run out (direction down)."""
    t = _grid(28)
    d = (t - T0) / DAY
    total = 8e9
    full = rng.uniform(0.6, 0.8) * total
    restarts = np.sort(rng.uniform(2, 12, rng.integers(1, 3)))
    since = d - np.concatenate(([0.0], restarts))[np.searchsorted(restarts, d, side="right")]
    rate = full / rng.uniform(6, 12)
    clean = full - rate * since
    return t, clean, clean + rng.normal(0, 0.01 * total, t.size), 0.0, "down"


def fam_flat(rng: np.random.Generator) -> Family:
    t = _grid(28)
    clean = np.full(t.size, rng.uniform(40, 75))
    noise = _ar_noise(rng, t.size, rng.uniform(0.5, 3.0), 0.99) + rng.normal(0, rng.uniform(0.3, 2.0), t.size)
    return t, clean, clean + noise, 100.0, "up"


def fam_flat_daily(rng: np.random.Generator) -> Family:
    t = _grid(28)
    amp = rng.uniform(5, 25)
    clean = rng.uniform(30, 85 - amp) + _daily(t, amp, rng.uniform(0, 6.3))
    return t, clean, clean + rng.normal(0, rng.uniform(0.3, 2.0), t.size), 100.0, "up"


def fam_sawtooth(rng: np.random.Generator) -> Family:
    """Logs growing between rotations; even at the top of a cycle a straight line needs >10 days."""
    t = _grid(28)
    d = (t - T0) / DAY
    period = rng.uniform(1.0, 3.0)
    low = rng.uniform(30, 50)
    rise = rng.uniform(0.3, 1.0) * (100 - low) / (1 + 10 / period)
    clean = low + rise * ((d + rng.uniform(0, period)) % period) / period
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.0), t.size), 100.0, "up"


def fam_slow(rng: np.random.Generator) -> Family:
    """Growth so slow that the limit is months away: any alert inside these 4 weeks is false."""
    t = _grid(28)
    base = rng.uniform(30, 60)
    cross_day = rng.uniform(90, 300)
    clean = base + (100 - base) / cross_day * (t - T0) / DAY + _daily(t, rng.uniform(0, 8), rng.uniform(0, 6.3))
    return t, clean, clean + rng.normal(0, rng.uniform(0.3, 1.5), t.size), 100.0, "up"


def fam_weekly_cleanup(rng: np.random.Generator) -> Family:
    """A weekly purge (backups, old logs) that frees less than the week added: peaks creep up to the limit."""
    t = _grid(28)
    d = (t - T0) / DAY
    phase = rng.uniform(0, 7)
    kept = rng.uniform(0.3, 0.7)  # share of a week's growth the purge leaves behind
    base = rng.uniform(15, 35)
    cross = rng.uniform(14, 26) + phase
    rate = (100 - base) / (kept * 7 * math.floor(cross / 7) + cross % 7)  # growth per day within a week
    week = np.floor((d + phase) / 7)
    since = (d + phase) - 7 * week
    clean = base + kept * rate * 7 * week + rate * since
    clean = clean + _daily(t, rng.uniform(0, 3), rng.uniform(0, 6.3))
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.0), t.size), 100.0, "up"


def fam_accelerating(rng: np.random.Generator) -> Family:
    """Growth that keeps speeding up (a table whose rows each add more rows): a curve, not a line."""
    t = _grid(28)
    d = (t - T0) / DAY
    cross_day = rng.uniform(12, 26)
    base = rng.uniform(20, 45)
    curve = rng.uniform(0.5, 0.9)  # share of the rise owed to the quadratic term
    rise = 100 - base
    clean = base + rise * ((1 - curve) * d / cross_day + curve * (d / cross_day) ** 2)
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.0), t.size), 100.0, "up"


def fam_plateau(rng: np.random.Generator) -> Family:
    """Growth, then a step (a migration's copy), then a plateau well below the limit: it never crosses."""
    t = _grid(28)
    d = (t - T0) / DAY
    grow_until = rng.uniform(4, 12)
    base = rng.uniform(20, 35)
    rate = rng.uniform(1.0, 3.0)
    top = base + rate * grow_until
    step = rng.uniform(5, 15)
    plateau = min(top + step, rng.uniform(70, 88))
    clean = np.where(d < grow_until, base + rate * d, plateau)
    return t, clean, clean + rng.normal(0, rng.uniform(0.2, 1.0), t.size), 100.0, "up"


def fam_heavy_noise(rng: np.random.Generator) -> Family:
    """A real trend under heavy, wandering noise and frequent spikes (a busy shared scratch volume)."""
    return _noisy_trend(rng, (15, 40), (3.0, 6.0), 0.98, (2.0, 5.0), 0.01, (5, 20))


def fam_weekly_leak(rng: np.random.Generator) -> Family:
    """Memory used (%) on a business week — weekday daytime load, a weekend lull — with a leak that
    starts a few days before it exhausts memory, so the lull falls inside the leak at some hours."""
    t = _grid(28)
    d = (t - T0) / DAY
    week_phase = rng.uniform(0, 7)  # which day of the generated series is a Monday
    weekday = np.floor(d + week_phase) % 7
    hour = (d % 1.0) * 24
    opens, closes = rng.uniform(6, 9), rng.uniform(16, 19)
    day = 1 / (1 + np.exp(-(hour - opens) / 0.7)) / (1 + np.exp(-(closes - hour) / 0.7))
    weekend = np.where(weekday >= 5, rng.uniform(0.1, 0.4), 1.0)
    base, swing = rng.uniform(35, 55), rng.uniform(8, 20)
    cross = rng.uniform(16, 26)
    start = cross - rng.uniform(4, 8)
    rate = (100 - base - swing) / (cross - start)
    clean = base + swing * day * weekend + rate * np.maximum(0.0, d - start)
    noise = _ar_noise(rng, t.size, rng.uniform(0.3, 1.0), 0.99) + rng.normal(0, rng.uniform(0.1, 0.5), t.size)
    return t, clean, clean + noise, 100.0, "up"


FAMILIES: dict[str, Callable[[np.random.Generator], Family]] = {
    "linear": fam_linear,
    "noisy": fam_noisy,
    "daily": fam_daily,
    "cleanup": fam_cleanup,
    "step": fam_step,
    "kink": fam_kink,
    "leak": fam_leak,
    "restart": fam_restart,
    "flat": fam_flat,
    "flat_daily": fam_flat_daily,
    "sawtooth": fam_sawtooth,
    "slow": fam_slow,
    "weekly_cleanup": fam_weekly_cleanup,
    "accelerating": fam_accelerating,
    "plateau": fam_plateau,
    "heavy_noise": fam_heavy_noise,
    "weekly_leak": fam_weekly_leak,
}


def make_series(family: str, seed: int) -> Series:
    rng = np.random.default_rng([seed, sorted(FAMILIES).index(family)])
    t, clean, observed, limit, direction = FAMILIES[family](rng)
    sign = 1.0 if direction == "up" else -1.0
    crossed = np.nonzero(clean * sign >= limit * sign)[0]
    truth = None
    if crossed.size:
        k = int(crossed[0])
        truth = float(t[k])
        if k > 0 and clean[k] != clean[k - 1]:
            # Interpolate between samples: the truth should not be quantised to the sampling step.
            truth = float(t[k - 1] + (limit - clean[k - 1]) / (clean[k] - clean[k - 1]) * (t[k] - t[k - 1]))
    if truth is not None:
        # Stop a little after the crossing: what happens once the disk is full is not a forecast.
        keep = t <= truth + DAY
        t, observed = t[keep], observed[keep]
    return Series(family, seed, t, observed, limit, direction, truth)


# --------------------------------------------------------------------------------------------------
# Methods


def eval_instants(t: np.ndarray) -> np.ndarray:
    return np.arange(t[0], t[-1] + 1e-9, EVERY)


def stored_averages(s: Series, now: float) -> tuple[np.ndarray, np.ndarray]:
    """What ``collector.predictions.service.forecast_capacity`` reads at ``now``: bucket starts and averages.

    The store answers a 14-day, 10-minute query from its 1-minute rollups (kept 14 days), merging
    them into 10-minute buckets whose average is sum / count of the samples in them; only samples
    ingested up to ``now`` exist.
    """
    since = now - LOOKBACK
    lo = since - since % ROLLUP_1M
    a, b = np.searchsorted(s.t, lo, side="left"), np.searchsorted(s.t, now, side="right")
    t, y = s.t[a:b], s.y[a:b]
    bucket = t - t % ROLLUP_STEP
    starts, first = np.unique(bucket, return_index=True)
    sums = np.add.reduceat(y, first) if t.size else np.empty(0)
    counts = np.diff(np.append(first, t.size))
    return starts, sums / counts


def run_ours(s: Series, timings: list[float] | None = None) -> Outcome:
    """Ours exactly as the predictions job runs it: rollup averages in, ``forecast()`` on them."""
    times = eval_instants(s.t)
    out = np.full((4, times.size), np.nan)
    for k, now in enumerate(times):
        starts, averages = stored_averages(s, float(now))
        ts, vs = rollup_forecast_points(starts, averages, float(now), ROLLUP_STEP)
        if ts.size < 3:  # the predictions job skips such series too
            out[3, k] = 0.0
            continue
        # CPU time of this process: the machine's other load does not count, as it would in wall time.
        began = time.process_time()
        fc = forecast(ts, vs, s.limit, s.direction, now=float(now), horizon_s=HORIZON)
        if timings is not None:
            timings.append(time.process_time() - began)
        if fc.eta is not None:
            out[:, k] = (fc.eta, fc.eta_low, fc.eta_high, float(fc.alert()))
        else:
            out[3, k] = 0.0
    return Outcome(times, out[0], out[1], out[2], out[3] > 0)


def run_least_squares(s: Series, window_s: float) -> Outcome:
    """Least-squares line over (now - window, now], extrapolated from its value at now."""
    sign = 1.0 if s.direction == "up" else -1.0
    tt = s.t - s.t[0]
    yy = s.y * sign
    lim = s.limit * sign
    c = [np.concatenate(([0.0], np.cumsum(a))) for a in (np.ones_like(tt), tt, tt * tt, yy, tt * yy)]
    times = eval_instants(s.t)
    hi = np.searchsorted(s.t, times, side="right")
    lo = np.searchsorted(s.t, times - window_s, side="right")
    n, st, stt, sy, sty = (ci[hi] - ci[lo] for ci in c)
    eta = np.full(times.size, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = n * stt - st * st
        slope = (n * sty - st * sy) / var
        intercept = (sy - slope * st) / n
        at_now = intercept + slope * (times - s.t[0])
        reached = (n >= 2) & (var > 0) & (at_now >= lim)
        rising = (n >= 2) & (var > 0) & (at_now < lim) & (slope > 0)
        eta[reached] = times[reached]
        eta[rising] = times[rising] + (lim - at_now[rising]) / slope[rising]
    # The same one-day warm-up as ours, so that their false alarms come from the method, not the
    # first hours of a new series.
    eta[times - s.t[0] < WARMUP] = np.nan
    alert = ~np.isnan(eta) & (eta - times <= HORIZON)
    return Outcome(times, eta, eta, eta, alert)


METHODS: dict[str, Callable[[Series], Outcome]] = {
    "ours": run_ours,
    "predict_linear": lambda s: run_least_squares(s, 6 * HOUR),
    "timeleft": lambda s: run_least_squares(s, 14 * DAY),
}


# --------------------------------------------------------------------------------------------------
# Scoring


def score(s: Series, o: Outcome, into: Scores) -> None:
    if s.truth is None:
        into.false_alarms.append(bool(o.alert.any()))
        return
    truth = s.truth
    before = o.times < truth
    within = before & (truth - o.times <= HORIZON)
    # Lead time: start of the last uninterrupted run of alerts ending at the crossing.
    idx = np.nonzero(within)[0]
    lead = 0.0
    for k in idx[::-1]:
        if not o.alert[k]:
            break
        lead = (truth - o.times[k]) / HOUR
    into.leads_h.append(lead)
    for k in idx:
        horizon_left = truth - o.times[k]
        if np.isnan(o.eta[k]):
            into.rel_errors.append(1.0)
            into.covered.append(False)
        else:
            into.rel_errors.append(abs(o.eta[k] - truth) / horizon_left)
            into.covered.append(bool(o.eta_low[k] - 1.0 <= truth <= o.eta_high[k] + 1.0))


def _evaluate(job: tuple[str, int]) -> tuple[dict[str, tuple[Series, Outcome]], list[float]]:
    family, seed = job
    s = make_series(family, seed)
    timings: list[float] = []
    results = {name: (s, run_ours(s, timings) if name == "ours" else method(s)) for name, method in METHODS.items()}
    return results, timings


def median(values: Iterable[float]) -> float:
    v = list(values)
    return statistics.median(v) if v else float("nan")


def recall_24h(sc: Scores) -> float:
    """Share of crossing series alerted, without interruption, from at least 24 h before the crossing."""
    return float(np.mean([lead >= 24.0 for lead in sc.leads_h])) if sc.leads_h else float("nan")


def false_rate(sc: Scores) -> float:
    return float(np.mean(sc.false_alarms)) if sc.false_alarms else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer series (about a minute on two cores)")
    parser.add_argument("--seeds", type=int, default=None, help="series per family (default 6, quick 2)")
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES), help="only these families")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--step", type=float, default=600.0, help="sampling interval of the series, seconds")
    args = parser.parse_args()
    global STEP
    STEP = args.step  # worker processes are forked after this, so they see it too
    seeds = args.seeds or (2 if args.quick else 6)
    families = args.family or sorted(FAMILIES)
    jobs = [(fam, seed) for fam in families for seed in range(seeds)]

    started = time.perf_counter()
    per_method: dict[str, Scores] = {name: Scores() for name in METHODS}
    per_family: dict[tuple[str, str], Scores] = {}
    timings: list[float] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for result, call_times in pool.map(_evaluate, jobs):
            timings.extend(call_times)
            for name, (s, outcome) in result.items():
                score(s, outcome, per_method[name])
                score(s, outcome, per_family.setdefault((name, s.family), Scores()))
    elapsed = time.perf_counter() - started

    crossing = sum(1 for fam, seed in jobs if make_series(fam, seed).truth is not None)
    print(
        f"series={len(jobs)} crossing={crossing} never_crossing={len(jobs) - crossing} "
        f"evaluated hourly, horizon {HORIZON / DAY:.0f} d, in {elapsed:.1f} s"
    )
    print(f"{'family':<15} {'method':<15} {'rel_err':>8} {'recall24':>8} {'lead_h':>7} {'band':>6} {'false':>7}")
    for (name, fam), sc in sorted(per_family.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        fa = f"{sum(sc.false_alarms)}/{len(sc.false_alarms)}" if sc.false_alarms else "-"
        cov = f"{np.mean(sc.covered):.2f}" if sc.covered else "-"
        rec = f"{recall_24h(sc):.2f}" if sc.leads_h else "-"
        print(f"{fam:<15} {name:<15} {median(sc.rel_errors):8.3f} {rec:>8} {median(sc.leads_h):7.1f} {cov:>6} {fa:>7}")
    ours = per_method["ours"]
    print(f"forecast_band_coverage={np.mean(ours.covered):.3f}")
    print(f"forecast_call_cpu_ms_median={1000 * median(timings):.2f}")
    print(f"forecast_call_cpu_ms_p95={1000 * float(np.percentile(timings, 95)):.2f}")
    for name, prefix in (("ours", ""), ("predict_linear", "predict_linear_"), ("timeleft", "timeleft_")):
        sc = per_method[name]
        print(f"{prefix}forecast_recall_24h={recall_24h(sc):.3f}")
        print(f"{prefix}forecast_lead_time_h_median={median(sc.leads_h):.1f}")
        print(f"{prefix}forecast_eta_rel_error_median={median(sc.rel_errors):.3f}")
        print(f"{prefix}forecast_false_alarm_rate={false_rate(sc):.3f}")


if __name__ == "__main__":
    main()
