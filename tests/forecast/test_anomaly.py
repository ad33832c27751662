"""Anomaly scores on generated series with injected anomalies.

Thresholds: injected anomalies are 6–10 noise sigmas and must score above 0.8; normal points must
stay low (95th percentile below 0.2, far under the 0.5 an alert would use). The first day is
warm-up and excluded unless a test is about it.
"""

from __future__ import annotations

import numpy as np
import pytest

from inspections.anomaly import AnomalyConfig, AnomalyScorer, score_series
from tests.forecast.synthetic import DAY, HOUR, T0, daily


def seasonal_series(days: float, step: float, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(0.0, days * DAY, step)
    return t, 50 + daily(t, 10.0) + rng.normal(0, noise, t.size)


def inject_spikes(t: np.ndarray, y: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.choice(np.nonzero(t >= T0 + 2 * DAY)[0], count, replace=False)
    y = y.copy()
    y[idx] += rng.choice([-1.0, 1.0], count) * rng.uniform(6, 10, count)
    mask = np.zeros(t.size, dtype=bool)
    mask[idx] = True
    return y, mask


@pytest.mark.parametrize("step", [60.0, 300.0])
def test_spikes_score_high_and_normal_points_low(step: float) -> None:
    t, y = seasonal_series(21, step, seed=1)
    y, injected = inject_spikes(t, y, 40, seed=2)
    s = score_series(t, y)
    normal = s[(t >= T0 + DAY) & ~injected]
    assert np.percentile(normal, 95) < 0.2
    assert np.mean(s[injected] > 0.8) >= 0.9
    assert np.median(s[injected]) > 0.95
    assert np.all((s >= 0) & (s <= 1))


def test_level_shift_scores_high_then_the_baseline_adapts() -> None:
    t, y = seasonal_series(20, 300.0, seed=3)
    shift_at = T0 + 12.4 * DAY
    y = y + np.where(t >= shift_at, 8.0, 0.0)
    s = score_series(t, y)
    first_hour = (t >= shift_at) & (t < shift_at + HOUR)
    assert np.mean(s[first_hour]) > 0.8
    next_day = (t >= shift_at + DAY) & (t < shift_at + 2 * DAY)
    assert np.percentile(s[next_day], 95) < 0.2


def test_outlier_burst_does_not_distort_the_baseline() -> None:
    t, y = seasonal_series(16, 300.0, seed=4)
    burst = (t >= T0 + 9 * DAY + 10 * HOUR) & (t < T0 + 9 * DAY + 13 * HOUR)
    y = y + np.where(burst, 25.0, 0.0)
    spike_at = int(np.searchsorted(t, T0 + 11 * DAY + 11 * HOUR))
    y[spike_at] += 7.0
    s = score_series(t, y)
    assert np.mean(s[burst]) > 0.9
    # The same hours on the next days, and the hours right after the burst, look normal...
    for day in (10, 11):
        same_hours = (t >= T0 + day * DAY + 10 * HOUR) & (t < T0 + day * DAY + 13 * HOUR)
        same_hours[spike_at] = False
        assert np.percentile(s[same_hours], 95) < 0.2
    after = (t >= T0 + 9 * DAY + 13 * HOUR) & (t < T0 + 9 * DAY + 19 * HOUR)
    assert np.percentile(s[after], 95) < 0.2
    # ...and the scale did not swell: a 7-sigma spike two days later still stands out.
    assert s[spike_at] > 0.8


def test_clipping_keeps_a_long_burst_out_of_the_level() -> None:
    """A burst half as long as the level window would move a plain median; clipping holds it back."""
    t, y = seasonal_series(12, 300.0, seed=4)
    end = T0 + 9 * DAY + 16 * HOUR
    y = y + np.where((t >= end - 6 * HOUR) & (t < end), 25.0, 0.0)
    after = (t >= end) & (t < end + 6 * HOUR)
    clipped = score_series(t, y)
    unclipped = score_series(t, y, AnomalyConfig(clip_sigmas=1e9))
    assert np.mean(unclipped[after]) > 0.9
    assert np.mean(clipped[after]) < np.mean(unclipped[after]) - 0.3


def test_weekly_pattern_is_learnt() -> None:
    rng = np.random.default_rng(5)
    t = T0 + np.arange(0.0, 35 * DAY, 300.0)
    dow = ((t - T0) // DAY + 2) % 7  # 2024-05-01 was a Wednesday: 0 = Monday
    hour = (t % DAY) / HOUR
    busy = (dow < 5) & (hour >= 9) & (hour < 18)
    y = 30 + 20 * busy + rng.normal(0, 1.5, t.size)
    s = score_series(t, y)
    last_week = t >= T0 + 28 * DAY
    assert np.percentile(s[last_week], 95) < 0.2
    assert np.percentile(s[last_week], 99.5) < 0.8
    # A Saturday that suddenly looks like a weekday is an anomaly.
    y2 = y.copy()
    saturday_busy = last_week & (dow == 5) & (hour >= 9) & (hour < 18)
    y2[saturday_busy] += 20
    s2 = score_series(t, y2)
    assert np.mean(s2[saturday_busy & (hour < 11)]) > 0.8


def test_warm_up_does_not_cry_wolf() -> None:
    t, y = seasonal_series(3, 300.0, seed=6, noise=0.3)  # a strong cycle, nothing learnt yet
    s = score_series(t, y)
    first_day = t < T0 + DAY
    assert np.max(s[first_day]) < 0.5
    assert np.max(s[t < T0 + 6 * HOUR]) < 0.3


def test_irregular_sampling_and_gaps() -> None:
    rng = np.random.default_rng(7)
    t = np.sort(T0 + rng.uniform(0, 21 * DAY, 6000))
    t = t[(t < T0 + 12 * DAY) | (t > T0 + 14 * DAY)]  # two days without data
    y = 50 + daily(t, 10.0) + rng.normal(0, 1.0, t.size)
    idx = rng.choice(np.nonzero(t > T0 + 3 * DAY)[0], 20, replace=False)
    y[idx] += rng.choice([-1.0, 1.0], 20) * rng.uniform(7, 10, 20)
    s = score_series(t, y)
    normal = np.ones(t.size, dtype=bool)
    normal[idx] = False
    assert np.percentile(s[normal & (t > T0 + DAY)], 95) < 0.2
    assert np.mean(s[idx] > 0.8) >= 0.8
    after_gap = (t > T0 + 14 * DAY) & (t < T0 + 14 * DAY + HOUR)
    assert np.max(s[after_gap & normal]) < 0.5


def test_hourly_samples() -> None:
    t, y = seasonal_series(28, HOUR, seed=8)
    y, injected = inject_spikes(t, y, 25, seed=9)
    y[injected] += np.sign(y[injected] - 50 - daily(t[injected], 10.0)) * 3  # 9-13 sigma: sparse data is noisier
    s = score_series(t, y)
    assert np.percentile(s[(t >= T0 + DAY) & ~injected], 95) < 0.2
    assert np.mean(s[injected] > 0.8) >= 0.8


def test_constant_series_and_discrete_counts() -> None:
    t = T0 + np.arange(0.0, 5 * DAY, 60.0)
    y = np.full(t.size, 5.0)
    y[5000] = 6.0
    s = score_series(t, y)
    assert s[5000] == pytest.approx(1.0)
    assert np.max(np.delete(s, 5000)) == 0.0
    counts = np.random.default_rng(10).poisson(3, t.size).astype(float)
    assert np.percentile(score_series(t, counts)[t > T0 + DAY], 95) < 0.2


def test_missing_values_score_nan_and_change_nothing_else() -> None:
    t, y = seasonal_series(4, 300.0, seed=11)
    holes = y.copy()
    holes[::50] = np.nan
    s_full = score_series(t, y)
    s_holes = score_series(t, holes)
    assert np.all(np.isnan(s_holes[::50]))
    assert np.all(np.isfinite(np.delete(s_holes, np.arange(0, t.size, 50))))
    assert np.allclose(
        np.delete(s_full, np.arange(0, t.size, 50)), np.delete(s_holes, np.arange(0, t.size, 50)), atol=0.05
    )


def test_streaming_scores_use_only_the_past() -> None:
    t, y = seasonal_series(6, 300.0, seed=12)
    full = score_series(t, y)
    cut = int(t.size * 0.6)
    assert np.array_equal(score_series(t[:cut], y[:cut]), full[:cut])
    # Changing the future changes nothing already scored.
    future = y.copy()
    future[cut:] += 100.0
    assert np.array_equal(score_series(t, future)[:cut], full[:cut])


def test_update_matches_score_series_and_unsorted_input() -> None:
    t, y = seasonal_series(3, 300.0, seed=13)
    scorer = AnomalyScorer()
    one_by_one = np.array([scorer.update(float(a), float(b)) for a, b in zip(t, y, strict=True)])
    assert np.array_equal(one_by_one, score_series(t, y))
    perm = np.random.default_rng(14).permutation(t.size)
    assert np.array_equal(score_series(t[perm], y[perm]), one_by_one[perm])


def test_streaming_rejects_the_past() -> None:
    scorer = AnomalyScorer()
    scorer.update(T0 + 3600, 1.0)
    scorer.update(T0 + 3700, 1.0)  # same 15-minute bin, earlier points would be fine too
    with pytest.raises(ValueError, match="time order"):
        scorer.update(T0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        scorer.update(float("nan"), 1.0)
