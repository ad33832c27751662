"""Per-key token buckets: a burst of events passes, then a steady rate, the rest is suppressed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RateLimit:
    burst: int = 100
    per_second: float = 10.0

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0:
            raise ValueError(f"rate limit needs burst >= 1 and per_second > 0, got {self}")


class TokenBuckets:
    """One bucket per key, created full. Time comes from the caller, so tests need no sleeping."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, last refill (unix seconds)]

    def allow(self, key: str, now: datetime) -> bool:
        t = now.timestamp()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [float(self.limit.burst), t]
        elif t > bucket[1]:
            bucket[0] = min(float(self.limit.burst), bucket[0] + (t - bucket[1]) * self.limit.per_second)
            bucket[1] = t
        else:
            bucket[1] = min(bucket[1], t)  # the clock stepped back: refill from the earlier time on
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True
        return False
