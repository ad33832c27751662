"""Deltas of cumulative counters between two readings, for rate collectors.

Kernel counters (bytes, packets, I/O operations, busy milliseconds) only grow; a counter that goes
backwards means the thing behind it was reset (device re-plugged, driver reloaded, interface
recreated under the same name), so its delta over that interval is unknown and it is skipped for
one round rather than reported as a huge or negative rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Deltas(Generic[K]):
    """Counter increments per key over ``elapsed`` seconds."""

    elapsed: float
    by_key: dict[K, tuple[float, ...]]


class CounterDeltas(Generic[K]):
    """Remembers the previous reading per key and returns increments on the next one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._previous: dict[K, tuple[float, ...]] = {}
        self._previous_at: float | None = None

    def advance(self, readings: Mapping[K, tuple[float, ...]]) -> Deltas[K] | None:
        """Store ``readings`` (taken just now) and return the deltas since the last call.

        Returns ``None`` on the first call and when the clock has not moved. Keys that are new or
        whose counters went backwards are absent from the result.
        """
        now = self._clock()
        previous, previous_at = self._previous, self._previous_at
        self._previous, self._previous_at = dict(readings), now
        if previous_at is None or now <= previous_at:
            return None
        by_key: dict[K, tuple[float, ...]] = {}
        for key, values in readings.items():
            old = previous.get(key)
            if old is None or len(old) != len(values):
                continue
            delta = tuple(new - before for new, before in zip(values, old, strict=True))
            if min(delta, default=0.0) < 0:
                continue
            by_key[key] = delta
        return Deltas(now - previous_at, by_key)
