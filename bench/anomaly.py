"""Anomaly detection quality and speed: our likelihood against a rolling z-score and the null detector.

    .venv/bin/python bench/anomaly.py [--seed N] [--copies N] [--cli] [--verbose]

Generates a labelled set (seeded): 5-minute metrics of about two weeks (4,032 points) with a daily
cycle, a weekly one on some, and one kind of trouble each — isolated spikes, level shifts up and
down, variance changes, a daily cycle that stops or turns upside down, slow drifts, a burst of
events in a count series — plus series with no anomaly at all: heavy-tailed noise (Student t, two
degrees of freedom), bursty counts, and clean seasonal series. ``--copies`` repeats every kind with
other seeds.

Every detector is scored with NAB's rules (``bench/nab_score.py``: windows of 10 % of a series split
among its anomalies, early detections rewarded, false positives penalised, the threshold optimised
over the whole set) on the standard profile, and the others for reference. Throughput is points per
second of CPU time of our scorer over the whole set (CPU time, so that a busy machine does not
distort it); ``--cli`` also times ``patrol analyze anomalies`` on one file made of every series, end
to end (start-up, CSV parsing and output included).

The headline figures are the last lines, one per line, as name=value.
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from bench.nab_score import PROFILES, score_set
from inspections.anomaly import score_series

STEP = 300.0
POINTS = 4032
T0 = 1_714_521_600.0  # 2024-05-01 00:00 UTC
DAY = 86400.0


@dataclass(frozen=True)
class Labelled:
    name: str
    ts: np.ndarray
    values: np.ndarray
    anomalies: list[int]  # point indices of the labelled onsets


def _background(rng: np.random.Generator, weekly: bool) -> tuple[np.ndarray, np.ndarray]:
    t = T0 + STEP * np.arange(POINTS)
    phase = 2 * np.pi * ((t % DAY) / DAY - rng.uniform(0.3, 0.5))
    amplitude = rng.uniform(5, 15)
    y = rng.uniform(30, 60) + amplitude * np.cos(phase)
    if weekly:
        weekend = ((t - T0) // DAY + 2) % 7 >= 5  # 2024-05-01 was a Wednesday
        y = y - 0.6 * amplitude * weekend
    return t, y


def _onsets(rng: np.random.Generator, count: int) -> list[int]:
    """Onsets after the probationary period, far enough apart that their windows do not merge."""
    slots = np.linspace(0.25 * POINTS, 0.92 * POINTS, count + 1)
    return sorted(int(rng.uniform(a + 50, b - 50)) for a, b in itertools.pairwise(slots))


def _kind(name: str) -> Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray, list[int]]]:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
        t, y = _background(rng, weekly=rng.random() < 0.5)
        sigma = rng.uniform(1.0, 3.0)
        noise = rng.normal(0, sigma, POINTS)
        labels: list[int] = []
        if name == "spikes":
            labels = _onsets(rng, 3)
            for a in labels:
                y[a] += rng.choice([-1, 1]) * rng.uniform(8, 15) * sigma
        elif name == "level_shift":
            labels = _onsets(rng, 2)
            for a in labels:
                y[a:] += rng.choice([-1, 1]) * rng.uniform(5, 10) * sigma
        elif name == "variance":
            labels = _onsets(rng, 1)
            noise[labels[0]:] *= rng.uniform(3, 5)
        elif name == "seasonality_break":
            labels = _onsets(rng, 1)
            a = labels[0]
            mean = float(np.mean(y))
            y[a:] = mean - (y[a:] - mean) if rng.random() < 0.5 else mean
        elif name == "drift":
            labels = _onsets(rng, 1)
            a = labels[0]
            y[a:] += rng.choice([-1, 1]) * rng.uniform(10, 20) * sigma * np.minimum(1, np.arange(POINTS - a) / 144)
        elif name == "noise_heavy_tailed":
            noise = sigma * rng.standard_t(2, POINTS)
        elif name == "clean":
            pass
        elif name in ("counts_bursty", "counts_burst"):
            rate = np.clip(y / 10, 0.5, None)
            bursts = rng.random(POINTS) < 0.01
            counts = rng.poisson(rate) + bursts * rng.poisson(4 * rate.mean(), POINTS)
            if name == "counts_burst":
                labels = _onsets(rng, 1)
                a = labels[0]
                counts[a:a + 36] += rng.poisson(6 * rate.mean(), 36)
            return t, counts.astype(float), labels
        else:
            raise ValueError(name)
        return t, y + noise, labels

    return make


KINDS = ("spikes", "level_shift", "variance", "seasonality_break", "drift", "noise_heavy_tailed", "clean",
         "counts_bursty", "counts_burst")


def labelled_set(seed: int, copies: int) -> list[Labelled]:
    out: list[Labelled] = []
    for c in range(copies):
        for k, kind in enumerate(KINDS):
            rng = np.random.default_rng([seed, c, k])
            t, y, labels = _kind(kind)(rng)
            out.append(Labelled(f"{kind}-{c}", t, y, labels))
    return out


def rolling_zscore(values: np.ndarray, window: int = 288) -> np.ndarray:
    """|z| of each point against the mean and deviation of the ``window`` points before it, in [0, 1)."""
    csum = np.concatenate(([0.0], np.cumsum(values)))
    csq = np.concatenate(([0.0], np.cumsum(values**2)))
    idx = np.arange(values.size)
    lo = np.maximum(0, idx - window)
    count = idx - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (csum[idx] - csum[lo]) / count
        sd = np.sqrt(np.maximum((csq[idx] - csq[lo]) / count - mean**2, 0.0))
        z = np.abs(values - mean) / sd
    z = np.where(count >= 12, np.nan_to_num(z, nan=0.0, posinf=1e9), 0.0)
    return z / (1.0 + z)


def time_cli(data: list[Labelled]) -> tuple[int, float, float]:
    """(points, wall seconds, CPU seconds) of ``patrol analyze anomalies`` over one CSV holding every
    series in turn. CPU seconds are what one core spends, whatever else the machine is doing."""
    patrol = Path(sys.executable).with_name("patrol")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.csv"
        offset = 0.0
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value"])
            for s in data:
                for t, v in zip(s.ts + offset, s.values, strict=True):
                    w.writerow([time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)), f"{v:.4f}"])
                offset += POINTS * STEP
        points = sum(s.ts.size for s in data)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(patrol), "analyze", "anomalies", str(path)], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        return points, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--cli", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    data = labelled_set(args.seed, args.copies)
    labels = [s.anomalies for s in data]

    start = time.process_time()
    ours = [score_series(s.ts, s.values) for s in data]
    elapsed = time.process_time() - start
    points = sum(s.ts.size for s in data)
    detectors = {"patrol": ours, "rolling_zscore": [rolling_zscore(s.values) for s in data],
                 "null": [np.zeros(s.ts.size) for s in data]}
    print(f"{len(data)} series, {points} points, {sum(len(lab) for lab in labels)} labelled anomalies")
    for profile in PROFILES:
        for name, scores in detectors.items():
            r = score_set(scores, labels, PROFILES[profile])
            print(f"{profile:14s} {name:15s} score {r.score:6.1f}  threshold {r.threshold:.4f}  "
                  f"windows hit {r.detections_in_windows}/{r.windows}  false positives {r.false_positives}")
    if args.verbose:
        thr = score_set(ours, labels).threshold
        for s, sc in zip(data, ours, strict=True):
            hits = np.nonzero(sc >= thr)[0]
            print(f"  {s.name:22s} labels {s.anomalies}  detections {hits.tolist()[:12]}")
    standard = {name: score_set(scores, labels).score for name, scores in detectors.items()}
    print(f"scorer_points_per_cpu_s={points / elapsed:.0f}")
    if args.cli:
        n, wall, cpu = time_cli(data)
        print(f"cli_points_per_cpu_s={n / cpu:.0f} (points={n}, cpu_seconds={cpu:.2f}, wall_seconds={wall:.2f})")
    for name, value in standard.items():
        print(f"nab_standard_{name}={value:.1f}")


if __name__ == "__main__":
    main()
