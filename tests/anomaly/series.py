"""Generated 5-minute metrics with a daily cycle, and what the tests ask of a score."""

from __future__ import annotations

import numpy as np

T0 = 1_714_521_600.0  # 2024-05-01 00:00 UTC, a Wednesday
DAY = 86400.0
STEP = 300.0
PER_DAY = int(DAY / STEP)


def cyclic(days: float, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """50 ± 10 over the day, Gaussian noise of ``noise``."""
    rng = np.random.default_rng(seed)
    t = T0 + STEP * np.arange(int(days * PER_DAY))
    return t, 50 + 10 * np.cos(2 * np.pi * (t % DAY) / DAY) + rng.normal(0, noise, t.size)


def alarm_runs(scores: np.ndarray, level: float) -> np.ndarray:
    """Indices where a run of scores at or above ``level`` starts."""
    above = np.nan_to_num(scores) >= level
    return np.nonzero(above & ~np.r_[False, above[:-1]])[0]
