"""Episodes: the anomalies worth telling an engineer about, with what was expected and what was seen.

An episode starts where the likelihood reaches ``min_score`` while the value is outside the expected
band (``expected ± band_sigmas × spread``): at the first point of that run of points outside the
band on that side. It lasts while the values stay outside the band expected at its start (a single
point back inside does not end it: noise). It counts only if that run
lasted ``min_duration_s``, and only if no counted episode of the same series started less than
``min_gap_s`` before it: one noisy series cannot raise an alarm every day.

Pure: the trace of :func:`inspections.anomaly.analyse_series` in, episodes out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspections.anomaly.likelihood import AnomalyTrace


@dataclass(frozen=True)
class Episode:
    start: float  # unix s of the first point outside the band
    end: float  # unix s of the last point outside the band
    detected_at: float  # unix s where the likelihood reached the alarm level
    score: float  # the likelihood there
    observed: float  # median value over the episode
    peak: float  # the value farthest from what was expected
    expected: float  # the baseline at the start
    band_low: float
    band_high: float
    ongoing: bool  # still outside the band at the last point

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, float | bool]:
        return {**self.__dict__, "duration_s": self.duration_s}


def find_episodes(ts: np.ndarray, values: np.ndarray, trace: AnomalyTrace, *, min_score: float,
                  band_sigmas: float = 3.0, min_duration_s: float = 0.0,
                  min_gap_s: float = 0.0) -> list[Episode]:
    """Episodes of a series in time order (``ts`` ascending, as scored)."""
    t = np.asarray(ts, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.size == 0:
        return []
    with np.errstate(invalid="ignore"):
        side = np.where(trace.z >= band_sigmas, 1, np.where(trace.z <= -band_sigmas, -1, 0))
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    out: list[Episode] = []
    covered_until = -np.inf
    for i in np.nonzero(np.nan_to_num(trace.score) >= min_score)[0]:
        if side[i] == 0 or t[i] <= covered_until:
            continue
        first, _ = _run(side, int(i))
        half = band_sigmas * trace.spread[first]
        low, high = trace.expected[first] - half, trace.expected[first] + half
        # How long it lasted is measured against the band expected when it began: the baseline
        # re-learns a new level within the hour, the engineer wants to know how long it held.
        with np.errstate(invalid="ignore"):
            held = np.where(v > high, 1, 0) if side[i] > 0 else np.where(v < low, -1, 0)
        held[first] = side[i]
        _, last = _run(held, first)
        covered_until = t[last]
        # A run of n points spans its n sampling intervals.
        if t[last] - t[first] + step < min_duration_s:
            continue
        if out and t[first] - out[-1].start < min_gap_s:
            continue
        span = slice(first, last + 1)
        deviation = np.abs(v[span] - trace.expected[span])
        out.append(Episode(
            start=float(t[first]), end=float(t[last] + step), detected_at=float(t[i]), score=float(trace.score[i]),
            observed=float(np.nanmedian(v[span])), peak=float(v[span][int(np.nanargmax(deviation))]),
            expected=float(trace.expected[first]), band_low=float(low), band_high=float(high),
            ongoing=last == t.size - 1,
        ))
    return out


def _run(side: np.ndarray, i: int) -> tuple[int, int]:
    """First and last index of the run of points on ``side[i]``'s side around i, bridging one-point gaps."""
    s = side[i]
    first = i
    while first > 0 and (side[first - 1] == s or (first > 1 and side[first - 2] == s)):
        first -= 1 if side[first - 1] == s else 2
    last = i
    n = side.size
    while last < n - 1 and (side[last + 1] == s or (last < n - 2 and side[last + 2] == s)):
        last += 1 if side[last + 1] == s else 2
    return first, last
