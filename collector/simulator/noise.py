"""Stateless, seedable noise: every value is a pure function of a key and a time.

The simulator evaluates each series at arbitrary timestamps — a 90-day backfill in coarse steps,
then live points every few seconds — and both must describe the same host. Instead of consuming a
random generator (whose output would depend on how the timeline was chunked), every random number
here is a counter-based hash (SplitMix64) of ``(key, index)``, so any chunking, any order and any
process produce the same values.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MASK = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SECOND_STREAM = 0xD1B54A32D192ED03


def key_of(*parts: object) -> int:
    """A 64-bit key for a named random stream, stable across processes and Python versions."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(key: int, index: npt.ArrayLike) -> FloatArray:
    """Uniform values in [0, 1), one per integer in ``index``."""
    idx = np.asarray(index, dtype=np.int64).astype(np.uint64)
    bits = _mix(_mix(idx ^ np.uint64(key & _MASK)) + np.uint64(key & _MASK))
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def gaussian(key: int, index: npt.ArrayLike) -> FloatArray:
    """Standard normal values (Box-Muller over two independent uniform streams)."""
    u1 = uniform(key, index)
    u2 = uniform(key ^ _SECOND_STREAM, index)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def white(key: int, ts_ms: IntArray) -> FloatArray:
    """Standard normal noise per second of wall time: the same second always gets the same value."""
    return gaussian(key, ts_ms // 1000)


def smooth(key: int, ts_ms: IntArray, period_ms: float) -> FloatArray:
    """Value noise in [-1, 1] that wanders on a time scale of ``period_ms`` (smoothstep between knots)."""
    pos = ts_ms.astype(np.float64) / period_ms
    knot = np.floor(pos)
    frac = pos - knot
    left = uniform(key, knot.astype(np.int64)) * 2.0 - 1.0
    right = uniform(key, knot.astype(np.int64) + 1) * 2.0 - 1.0
    weight = frac * frac * (3.0 - 2.0 * frac)
    return left + (right - left) * weight


def drift(key: int, ts_ms: IntArray, period_ms: float, octaves: int = 3) -> FloatArray:
    """Fractal value noise, roughly in [-1, 1]: slow wandering with finer wobbles on top."""
    total = np.zeros(ts_ms.shape, dtype=np.float64)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * smooth(key + octave, ts_ms, period_ms / (2.0**octave))
        norm += amplitude
        amplitude *= 0.5
    return total / norm


def sparse(key: int, ts_ms: IntArray, bucket_ms: int, probability: float) -> FloatArray:
    """1.0 inside randomly chosen buckets (each with ``probability``), else 0.0: rare episodes."""
    hit = uniform(key, ts_ms // bucket_ms) < probability
    return hit.astype(np.float64)
