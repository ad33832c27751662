"""The anomaly likelihood's promises: bounded, streaming, one run per anomaly at its onset,
re-learning after a shift, quiet on noise, constant memory."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from inspections.anomaly import AnomalyConfig, AnomalyScorer, analyse_series, score_series
from tests.anomaly.series import DAY, PER_DAY, T0, alarm_runs, cyclic

ALARM = AnomalyConfig().alarm


def test_scores_are_likelihoods_and_missing_values_score_nan() -> None:
    t, y = cyclic(6, seed=1)
    y[PER_DAY * 4] += 30
    y[::97] = np.nan
    s = score_series(t, y)
    assert np.all(np.isnan(s[::97]))
    finite = np.delete(s, np.arange(0, t.size, 97))
    assert np.all((finite >= 0) & (finite <= 1))
    assert s[PER_DAY * 4] >= ALARM


def test_a_score_uses_only_the_past() -> None:
    t, y = cyclic(8, seed=2)
    full = score_series(t, y)
    cut = int(t.size * 0.6)
    assert np.array_equal(score_series(t[:cut], y[:cut]), full[:cut])
    future = y.copy()
    future[cut:] += 100.0
    assert np.array_equal(score_series(t, future)[:cut], full[:cut])


def test_one_point_at_a_time_in_batches_or_unsorted_gives_the_same_scores() -> None:
    t, y = cyclic(3, seed=3)
    y[500] += 20
    whole = score_series(t, y)
    one = AnomalyScorer()
    assert np.array_equal(np.array([one.update(float(a), float(b)) for a, b in zip(t, y, strict=True)]), whole)
    batches = AnomalyScorer()
    parts = [batches.score_many(t[a:b], y[a:b]) for a, b in ((0, 100), (100, 101), (101, 700), (700, t.size))]
    assert np.array_equal(np.concatenate(parts), whole)
    perm = np.random.default_rng(4).permutation(t.size)
    assert np.array_equal(score_series(t[perm], y[perm]), whole[perm])


def test_points_out_of_order_are_refused() -> None:
    scorer = AnomalyScorer()
    scorer.update(T0 + 600, 1.0)
    with pytest.raises(ValueError, match="time order"):
        scorer.update(T0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        scorer.update(float("nan"), 1.0)


def test_a_level_shift_gives_one_run_at_its_onset_then_the_baseline_relearns() -> None:
    t, y = cyclic(12, seed=5)
    onset = 7 * PER_DAY + 40
    y[onset:] += 12
    s = score_series(t, y)
    runs = alarm_runs(s[PER_DAY:], ALARM) + PER_DAY
    assert len(runs) == 1 and onset <= runs[0] <= onset + 6
    assert s[onset:onset + 6].max() >= ALARM
    # A while later (past the quiet period after the alarm) the new level is normal.
    later = s[onset + PER_DAY:onset + 3 * PER_DAY]
    assert later.max() < ALARM and np.percentile(later, 95) < 0.2


@pytest.mark.parametrize("kind", ["spike", "dip", "variance", "drift", "cycle_stops"])
def test_unusual_behaviour_is_detected_near_its_onset(kind: str) -> None:
    t, y = cyclic(10, seed=6, noise=1.5)
    onset = 6 * PER_DAY + 100
    if kind == "spike":
        y[onset] += 15
    elif kind == "dip":
        y[onset] -= 15
    elif kind == "variance":
        y[onset:] += np.random.default_rng(7).normal(0, 6, t.size - onset)
    elif kind == "drift":
        y[onset:] += np.minimum(40, np.arange(t.size - onset) * 40 / PER_DAY * 2)  # +40 over half a day
    else:
        y[onset:] = 50
    s = score_series(t, y)
    runs = alarm_runs(s[PER_DAY:], ALARM) + PER_DAY
    assert runs.size >= 1, f"{kind}: never alarmed"
    first = runs[0]
    assert onset <= first <= onset + PER_DAY // 4, f"{kind}: first alarm at {first}, onset {onset}"


@pytest.mark.parametrize("df", [2, 3])
def test_heavy_tailed_noise_stays_low(df: int) -> None:
    t, y = cyclic(14, seed=8)
    y = y + 2 * np.random.default_rng(9).standard_t(df, t.size)
    s = score_series(t, y)[PER_DAY:]
    assert np.percentile(s, 99) < 0.25
    assert len(alarm_runs(s, ALARM)) <= 7  # at most one every other day (a raw z-score alarms hundreds of times)
    assert len(alarm_runs(s, 0.75)) == 0


def test_a_noisy_series_routine_spikes_are_normal() -> None:
    t, y = cyclic(14, seed=10)
    spikes = np.arange(100, t.size, 24)  # every two hours
    y[spikes] += np.random.default_rng(11).uniform(6, 10, spikes.size)
    s = score_series(t, y)
    late = s[4 * PER_DAY:]
    assert len(alarm_runs(late, ALARM)) <= 3
    assert np.median(s[spikes[spikes > 4 * PER_DAY]]) < 0.2


def test_a_quiet_series_first_spike_stands_out() -> None:
    t, y = cyclic(5, seed=12, noise=0.5)
    y[3 * PER_DAY] += 6
    s = score_series(t, y)
    assert s[3 * PER_DAY] >= ALARM
    assert len(alarm_runs(s[PER_DAY:], ALARM)) == 1


def test_the_daily_cycle_is_learnt() -> None:
    t, y = cyclic(10, seed=13, noise=0.5)
    tr = analyse_series(t, y)
    late = slice(5 * PER_DAY, None)
    truth = 50 + 10 * np.cos(2 * np.pi * (t % DAY) / DAY)
    assert np.median(np.abs(tr.expected[late] - truth[late])) < 1.0
    assert np.median(tr.spread[late]) < 1.0  # the cycle is not mistaken for noise
    assert len(alarm_runs(tr.score[PER_DAY:], ALARM)) == 0


def test_memory_does_not_grow_with_the_series() -> None:
    t, y = cyclic(30, seed=14)
    scorer = AnomalyScorer()
    scorer.score_many(t[:PER_DAY], y[:PER_DAY])
    early = (scorer.state_size(), len(pickle.dumps(scorer)))
    scorer.score_many(t[PER_DAY:], y[PER_DAY:])
    late = (scorer.state_size(), len(pickle.dumps(scorer)))
    assert late[0] == early[0]
    assert late[1] <= early[1] + 64  # the same numbers; only their encoding may differ


def test_the_weekly_pattern_is_learnt_and_a_busy_saturday_stands_out() -> None:
    rng = np.random.default_rng(15)
    t = T0 + 300.0 * np.arange(35 * PER_DAY)
    day_of_week = ((t - T0) // DAY + 2) % 7  # 0 = Monday; T0 is a Wednesday
    hour = (t % DAY) / 3600
    busy = (day_of_week < 5) & (hour >= 9) & (hour < 18)
    y = 30 + 20 * busy + rng.normal(0, 1.5, t.size)
    last_week = t >= T0 + 28 * DAY
    s = score_series(t, y)
    # Around 9:00 and 18:00 the daily profile alone would expect a step every day; the weekly profile
    # knows that weekends have none.
    edges = last_week & ((np.abs(hour - 9) <= 1) | (np.abs(hour - 18) <= 1))
    assert s[edges].max() < ALARM
    assert len(alarm_runs(np.where(last_week, s, 0.0), ALARM)) <= 2
    saturday = last_week & (day_of_week == 5) & (hour >= 9) & (hour < 18)
    y[saturday] += 20
    runs = alarm_runs(score_series(t, y), ALARM)
    first = np.argmax(saturday)
    assert np.any((runs >= first) & (runs <= first + 6))


def test_a_constant_series_change_and_poisson_counts() -> None:
    t = T0 + 300.0 * np.arange(6 * PER_DAY)
    y = np.full(t.size, 5.0)
    y[4 * PER_DAY:] = 6.0
    s = score_series(t, y)
    assert list(alarm_runs(s, ALARM)) == [4 * PER_DAY]
    counts = np.random.default_rng(16).poisson(3, t.size).astype(float)
    assert len(alarm_runs(score_series(t, counts), ALARM)) <= 1


def test_irregular_sampling_with_a_two_day_gap() -> None:
    rng = np.random.default_rng(17)
    t = np.sort(T0 + rng.uniform(0, 21 * DAY, 6000))
    t = t[(t < T0 + 12 * DAY) | (t > T0 + 14 * DAY)]
    y = 50 + 10 * np.cos(2 * np.pi * (t % DAY) / DAY) + rng.normal(0, 1.0, t.size)
    s = score_series(t, y)
    assert np.all((s >= 0) & (s <= 1))
    assert np.percentile(s[t > T0 + 2 * DAY], 99) < 0.25
    onset = int(np.searchsorted(t, T0 + 17 * DAY))
    y[onset:] += 15
    runs = alarm_runs(score_series(t, y), ALARM)
    assert np.any((runs >= onset) & (runs <= onset + 6))
