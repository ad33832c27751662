"""A windowed anomaly-detection scorer with the rules of the Numenta Anomaly Benchmark (NAB).

- **Windows.** Each labelled anomaly gets a window centred on it; together the windows of a series
  cover ``window_fraction`` (10 %) of its points, split evenly among its anomalies. Overlapping
  windows merge.
- **Probation.** The first ``min(floor(15 % · n), 750)`` points are for learning: detections there
  count for nothing.
- **Rewards.** A detection is a point whose score reaches the threshold. Inside a window only the
  earliest detection counts, worth ``A_TP · σ(position) / σ(-1)`` where ``σ(x) = 2 / (1 + e^{5x}) − 1``
  and ``position`` runs from −1 at the window's left edge to 0 at its right edge, so the earliest
  detection is worth exactly ``A_TP``. A window without detection costs ``A_FN``. Every detection
  outside a window costs ``A_FP · σ(distance past the previous window, in window widths)``: little
  right after a window, the full ``A_FP`` far from one (or before the first).
- **Normalisation.** ``100 · (raw − null) / (perfect − null)``: the null detector (never detects)
  scores 0, a detector that hits every window at its left edge and nothing else scores 100. The
  threshold is the one that maximises the raw score of the whole set, as NAB optimises it.

Profiles are NAB's: ``standard`` (A_TP 1, A_FP 0.11, A_FN 1), ``reward_low_fp`` and ``reward_low_fn``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_fp": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_fn": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's reward curve: ≈ 0.987 at −1 (a window's left edge), 0 at 0 (its right edge), → −1 past it."""
    p = np.asarray(position, dtype=float)
    return np.where(p >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * p)) - 1.0)


_MAX_TP = float(scaled_sigmoid(np.array(-1.0)))


def probation_length(n: int, fraction: float = 0.15) -> int:
    return int(min(math.floor(fraction * n), fraction * 5000))


def label_windows(n: int, anomalies: Sequence[int], window_fraction: float = 0.10) -> list[tuple[int, int]]:
    """Inclusive (first, last) point indices of the windows around ``anomalies`` (point indices)."""
    if not anomalies:
        return []
    half = int(window_fraction * n / len(anomalies)) / 2
    windows: list[tuple[int, int]] = []
    for a in sorted(anomalies):
        lo, hi = max(0, int(a - half)), min(n - 1, int(a + half))
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(hi, windows[-1][1]))
        else:
            windows.append((lo, hi))
    return windows


@dataclass(frozen=True)
class ScoredSeries:
    """One series prepared for scoring: per point, its window (−1 outside) and what detecting it is worth."""

    window: np.ndarray  # int: index into the series' windows, or −1
    worth: np.ndarray  # reward of a detection there (before the profile's weights for FPs)
    scorable: np.ndarray  # bool: past the probationary period
    windows: int  # windows with at least one scorable point


def prepare(n: int, windows: Sequence[tuple[int, int]]) -> ScoredSeries:
    window = np.full(n, -1)
    worth = np.full(n, -1.0)  # before any window: a full false positive
    idx = np.arange(n)
    prev_right: int | None = None
    prev_width = 0.0
    for k, (lo, hi) in enumerate(windows):
        width = float(hi - lo + 1)
        window[lo:hi + 1] = k
        worth[lo:hi + 1] = scaled_sigmoid(-(hi - idx[lo:hi + 1] + 1) / width) / _MAX_TP
        if prev_right is not None:
            past = slice(prev_right + 1, lo)
            worth[past] = scaled_sigmoid(np.abs(prev_right - idx[past]) / (prev_width - 1))
        prev_right, prev_width = hi, width
    if prev_right is not None:
        past = slice(prev_right + 1, n)
        worth[past] = scaled_sigmoid(np.abs(prev_right - idx[past]) / (prev_width - 1))
    scorable = idx >= probation_length(n)
    counted = len({int(w) for w in window[scorable] if w >= 0})
    return ScoredSeries(window, worth, scorable, counted)


def raw_score(series: ScoredSeries, detected: np.ndarray, profile: Profile) -> float:
    """NAB's raw score of one series given which points are detections."""
    hit = detected & series.scorable
    outside = hit & (series.window < 0)
    total = profile.fp * float(series.worth[outside].sum())
    in_window = series.window[series.scorable]
    for k in np.unique(in_window[in_window >= 0]):
        members = hit & (series.window == k)
        total += profile.tp * float(series.worth[members].max()) if members.any() else -profile.fn
    return total


@dataclass(frozen=True)
class Result:
    score: float  # normalised: null 0, perfect 100
    threshold: float
    raw: float
    detections_in_windows: int
    false_positives: int
    windows: int


def score_set(scores: Sequence[np.ndarray], labels: Sequence[Sequence[int]], profile: Profile = PROFILES["standard"],
              thresholds: np.ndarray | None = None) -> Result:
    """Normalised NAB score of a detector over a labelled set, at the threshold that maximises it."""
    prepared = [prepare(len(s), label_windows(len(s), lab)) for s, lab in zip(scores, labels, strict=True)]
    windows = sum(p.windows for p in prepared)
    null, perfect = -profile.fn * windows, profile.tp * windows
    if thresholds is None:
        pooled = np.concatenate([np.nan_to_num(np.asarray(s, dtype=float), nan=0.0) for s in scores])
        thresholds = np.unique(np.concatenate([np.quantile(pooled, np.linspace(0, 1, 201)), np.linspace(0, 1, 101)]))
    best: Result | None = None
    for thr in thresholds:
        raw = 0.0
        hits = fps = 0
        for s, p in zip(scores, prepared, strict=True):
            detected = np.nan_to_num(np.asarray(s, dtype=float), nan=-np.inf) >= thr
            raw += raw_score(p, detected, profile)
            scorable = detected & p.scorable
            fps += int((scorable & (p.window < 0)).sum())
            hits += len(np.unique(p.window[scorable & (p.window >= 0)]))
        norm = 100.0 * (raw - null) / (perfect - null) if perfect > null else 0.0
        if best is None or norm > best.score:
            best = Result(norm, float(thr), raw, hits, fps, windows)
    assert best is not None
    return best
