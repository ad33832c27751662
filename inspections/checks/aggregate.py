"""Reducing a window of rollup buckets to one number.

First a per-bucket value is picked (the rollup field: ``avg``, ``max``, ``min``, ``last`` or
``absmax``), then the window is reduced (``avg``, ``max``, ``min``, ``last`` or a percentile
``pNN``). The average of bucket averages is weighted by each bucket's sample count, so it equals the
mean of the raw samples whatever the tier.
"""

from __future__ import annotations

import numpy as np

from inspections.data import FloatArray, RollupColumns


def bucket_values(columns: RollupColumns, rollup: str) -> FloatArray:
    if rollup == "absmax":
        return np.maximum(np.abs(columns.min.astype(np.float64)), np.abs(columns.max.astype(np.float64)))
    values: FloatArray = getattr(columns, rollup).astype(np.float64, copy=False)
    return values


def aggregate(columns: RollupColumns, rollup: str, aggregation: str) -> float | None:
    """The window's value, or ``None`` when there is no finite value in it."""
    values = bucket_values(columns, rollup)
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    if not len(values):
        return None
    if aggregation == "last":
        return float(values[-1])
    if aggregation == "max":
        return float(values.max())
    if aggregation == "min":
        return float(values.min())
    if aggregation == "avg":
        if rollup == "avg":
            counts = columns.counts if finite.all() else columns.counts[finite]
            total = float(counts.sum())
            if total > 0:
                return float(np.dot(values, counts) / total)
        return float(values.mean())
    if aggregation.startswith("p"):
        return float(np.percentile(values, float(aggregation[1:])))
    raise ValueError(f"unknown aggregation {aggregation!r}")


def up_fraction(columns: RollupColumns) -> float | None:
    """Share of samples in which a 1/0 series was 1, weighted by sample count."""
    counts = columns.counts.astype(np.float64)
    total = float(counts.sum())
    if total <= 0:
        return None
    avg = columns.avg.astype(np.float64)
    return float(np.dot(np.clip(avg, 0.0, 1.0), counts) / total)


def share_at_least(columns: RollupColumns, required: float) -> float | None:
    """Share of samples in buckets whose *minimum* reached ``required``.

    A bucket in which any sample saw less (a process count dipping during a restart) counts as
    down as a whole: rollups do not say for how long it dipped, and the conservative answer is the
    one an engineer wants to hear about.
    """
    counts = columns.counts.astype(np.float64)
    total = float(counts.sum())
    if total <= 0:
        return None
    up = columns.min.astype(np.float64) >= required
    return float(counts[up].sum() / total)
