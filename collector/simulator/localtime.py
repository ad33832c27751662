"""Local wall-clock time of a customer site, vectorised over unix-millisecond timestamps.

Office hours, shop opening hours and nightly backups happen in the customer's time zone, while all
timestamps stay UTC. The UTC offset is looked up once per calendar day (at noon UTC), which is exact
except for the few hours around a daylight-saving switch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from collector.simulator.noise import FloatArray, IntArray

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class LocalClock:
    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self._offsets: dict[int, int] = {}

    def _offset_ms(self, day: int) -> int:
        offset = self._offsets.get(day)
        if offset is None:
            noon = datetime.fromtimestamp(day * 86_400 + 43_200, tz=UTC).astimezone(self.zone)
            delta = noon.utcoffset()
            offset = int(delta.total_seconds() * 1000) if delta is not None else 0
            self._offsets[day] = offset
        return offset

    def local_ms(self, ts_ms: IntArray) -> IntArray:
        """Timestamps shifted so that their UTC reading is the local wall-clock time."""
        days = ts_ms // DAY_MS
        first, last = int(days.min()), int(days.max())
        table = np.array([self._offset_ms(d) for d in range(first, last + 1)], dtype=np.int64)
        return ts_ms + table[days - first]

    def hour_and_weekday(self, ts_ms: IntArray) -> tuple[FloatArray, IntArray]:
        """Local hour of day (fractional, 0..24) and weekday (0 = Monday … 6 = Sunday)."""
        local = self.local_ms(ts_ms)
        hour = (local % DAY_MS).astype(np.float64) / HOUR_MS
        # 1970-01-01 was a Thursday (weekday 3).
        weekday = (local // DAY_MS + 3) % 7
        return hour, weekday
