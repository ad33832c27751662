"""A Samples batch read out of its message once, as flat arrays: what the ingest door checks and the
rollup aggregator folds, without a Python object per point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Labels = tuple[tuple[str, str], ...]  # a series' label pairs, sorted


class UnpairedSeries(ValueError):
    """A series whose timestamps and values do not pair up."""

    def __init__(self, name: str, stamps: int, values: int) -> None:
        super().__init__(f"series {name[:200]!r} has {stamps} timestamps but {values} values")
        self.name = name


@dataclass(frozen=True, slots=True)
class FlatSamples:
    """Every series of a batch that has points: its name, sorted labels, place in the message and
    number of points; and all their stamps (unix ms) and values, series after series."""

    names: list[str]
    labels: list[Labels]
    positions: list[int]
    sizes: list[int]
    stamps: NDArray[np.int64]
    values: NDArray[np.float64]


def flatten(samples: Any) -> FlatSamples:
    """Read a ``patrol.v1.Samples`` message; raises :class:`UnpairedSeries`.

    Each repeated field is read once, as a list (a slice copies it in one C loop), and the points of
    all series go into numpy from one list each.
    """
    names: list[str] = []
    labels: list[Labels] = []
    positions: list[int] = []
    sizes: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    for i, s in enumerate(samples.series):
        ts = s.timestamps_ms[:]
        vs = s.values[:]
        n = len(ts)
        if n != len(vs):
            raise UnpairedSeries(s.name, n, len(vs))
        if n:
            pairs = s.labels
            names.append(s.name)
            labels.append(tuple(sorted(pairs.items())) if pairs else ())
            positions.append(i)
            sizes.append(n)
            stamps += ts
            values += vs
    return FlatSamples(names, labels, positions, sizes, np.array(stamps, dtype=np.int64),
                       np.array(values, dtype=np.float64))
