"""NAB's scoring rules on cases small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.nab_score import PROFILES, label_windows, prepare, probation_length, raw_score, scaled_sigmoid, score_set

STANDARD = PROFILES["standard"]


def detections(n: int, *at: int) -> np.ndarray:
    d = np.zeros(n, dtype=bool)
    d[list(at)] = True
    return d


def test_windows_cover_a_tenth_of_the_series_split_among_anomalies_and_merge() -> None:
    assert label_windows(100, [50]) == [(45, 55)]
    assert label_windows(100, [20, 70]) == [(17, 22), (67, 72)]
    assert label_windows(100, [50, 52]) == [(47, 54)]  # overlapping windows merge
    assert label_windows(100, [1]) == [(0, 6)]  # clipped at the start
    assert probation_length(100) == 15 and probation_length(10_000) == 750


def test_the_reward_curve() -> None:
    assert scaled_sigmoid(np.array(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(np.array(-0.5)) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(np.array(0.0)) == 0.0
    assert scaled_sigmoid(np.array(3.0)) == -1.0


def test_one_window_by_hand() -> None:
    s = prepare(100, label_windows(100, [50]))  # window 45..55, 11 points wide
    assert raw_score(s, detections(100), STANDARD) == -1.0  # missed: −A_FN
    assert raw_score(s, detections(100, 45), STANDARD) == pytest.approx(1.0)  # at the left edge: A_TP
    right_edge = (2 / (1 + math.exp(-5 / 11)) - 1) / (2 / (1 + math.exp(-5)) - 1)
    assert raw_score(s, detections(100, 55), STANDARD) == pytest.approx(right_edge)
    assert raw_score(s, detections(100, 47, 50), STANDARD) == raw_score(s, detections(100, 47), STANDARD)
    # A false positive far past the window (3.5 widths) or before it costs the full A_FP.
    assert raw_score(s, detections(100, 45, 90), STANDARD) == pytest.approx(1.0 - 0.11)
    assert raw_score(s, detections(100, 20, 45), STANDARD) == pytest.approx(1.0 - 0.11)
    # Right after the window it costs less: 1 point past is 0.1 widths → σ(0.1) = −0.2449.
    assert raw_score(s, detections(100, 45, 56), STANDARD) == pytest.approx(1.0 + 0.11 * (2 / (1 + math.exp(0.5)) - 1))
    # Detections during the probationary period count for nothing.
    assert raw_score(s, detections(100, 10, 45), STANDARD) == pytest.approx(1.0)


def test_normalised_score_and_threshold_optimisation() -> None:
    n = 100
    perfect = np.zeros(n)
    perfect[45] = 0.9
    assert score_set([perfect], [[50]]).score == pytest.approx(100.0)
    assert score_set([np.zeros(n)], [[50]]).score == pytest.approx(0.0)
    # A detector that fires at 0.9 on the window's edge and at 0.5 on twenty other points: the best
    # threshold keeps only the first.
    noisy = perfect.copy()
    noisy[np.arange(60, 100, 2)] = 0.5
    best = score_set([noisy], [[50]])
    assert best.threshold > 0.5 and best.score == pytest.approx(100.0) and best.false_positives == 0
    # At the right edge only: (0.2264 + 1) / 2 of the way from null to perfect.
    late = np.zeros(n)
    late[55] = 1.0
    right_edge = (2 / (1 + math.exp(-5 / 11)) - 1) / (2 / (1 + math.exp(-5)) - 1)
    assert score_set([late], [[50]]).score == pytest.approx(100 * (right_edge + 1) / 2)
    # A series without labels adds no window, only its false positives.
    res = score_set([perfect, np.where(np.arange(n) == 80, 0.85, 0.0)], [[50], []])
    assert res.windows == 1 and res.score == pytest.approx(100.0) and 0.85 < res.threshold <= 0.9
