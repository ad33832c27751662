"""Generated series with known answers, shared by the forecast and anomaly tests.

Every generator returns timestamps (unix seconds), observed values and, where it applies, the true
crossing time computed on the noise-free signal (interpolated between samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOUR = 3600.0
DAY = 86400.0
# Midnight UTC, 2024-05-01: whole days keep the daily cycle's phase obvious in the tests.
T0 = 1_714_521_600.0


@dataclass(frozen=True)
class Generated:
    t: np.ndarray
    y: np.ndarray
    truth: float | None  # first crossing of the noise-free signal, None if it never crosses

    def upto(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        keep = self.t <= now
        return self.t[keep], self.y[keep]


def grid(days: float, step: float = 600.0) -> np.ndarray:
    return T0 + np.arange(0.0, days * DAY, step)


def first_crossing(t: np.ndarray, clean: np.ndarray, limit: float, direction: str = "up") -> float | None:
    sign = 1.0 if direction == "up" else -1.0
    above = np.nonzero(clean * sign >= limit * sign)[0]
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0 or clean[k] == clean[k - 1]:
        return float(t[k])
    return float(t[k - 1] + (limit - clean[k - 1]) / (clean[k] - clean[k - 1]) * (t[k] - t[k - 1]))


def daily(t: np.ndarray, amplitude: float, peak_hour: float = 15.0) -> np.ndarray:
    return amplitude * np.cos(2 * np.pi * ((t % DAY) / DAY - peak_hour / 24))


def with_noise(t: np.ndarray, clean: np.ndarray, sigma: float, seed: int, limit: float = 100.0) -> Generated:
    rng = np.random.default_rng(seed)
    return Generated(t, clean + rng.normal(0.0, sigma, t.size), first_crossing(t, clean, limit))


def linear(days: float, start: float, per_day: float, sigma: float, seed: int = 0) -> Generated:
    t = grid(days)
    return with_noise(t, start + per_day * (t - T0) / DAY, sigma, seed)


def ar_noise(n: int, sigma: float, rho: float, seed: int) -> np.ndarray:
    """Stationary AR(1) noise: slow wander that a careless fit takes for a trend."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sigma * np.sqrt(1 - rho * rho), n)
    out = np.empty(n)
    acc = rng.normal(0.0, sigma)
    for i in range(n):
        acc = rho * acc + e[i]
        out[i] = acc
    return out


def business_week_leak(days: float, leak_start_day: float, cross_day: float, seed: int = 0) -> Generated:
    """Memory used (%) with weekday daytime load, a weekend lull and a leak from ``leak_start_day``.

    ``T0`` is a Wednesday, so days 3 and 4 (and 10, 11, ...) are the weekend. Load is 12 points
    between 08:00 and 18:00 on weekdays and a fifth of that at weekends, over a base of 45; the
    leak is linear and brings the weekday peaks to 100 around ``cross_day``. Slow AR(1) wander plus
    white noise on top.
    """
    t = grid(days)
    d = (t - T0) / DAY
    hour = (d % 1.0) * 24
    weekend = np.floor(d + 2) % 7 >= 5
    load = 12.0 / (1 + np.exp(-(hour - 8) / 1.5)) / (1 + np.exp(-(18 - hour) / 1.5))
    load = np.where(weekend, 0.2 * load, load)
    rate = (100.0 - 45.0 - 12.0) / (cross_day - leak_start_day)
    clean = 45.0 + load + rate * np.maximum(0.0, d - leak_start_day)
    noise = ar_noise(t.size, 0.5, 0.99, seed) + np.random.default_rng(seed + 1).normal(0.0, 0.2, t.size)
    return Generated(t, clean + noise, first_crossing(t, clean, 100.0))
