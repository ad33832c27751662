"""Time as the collector stores it and as it reads it: unix seconds or milliseconds in the tables,
tz-aware UTC datetimes everywhere else, and rollup buckets aligned to their width."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

# The inspection engine's conversions are the collector's too: one definition of "unix seconds".
from inspections.data import from_epoch as from_seconds
from inspections.data import to_epoch as to_seconds

__all__ = ["align", "align_array", "from_ms", "from_seconds", "to_seconds"]

# The instants a datetime can hold; a stamp outside (stored before ingest bounded the time window)
# reads as unknown rather than failing every query that shows it.
_MIN_S = datetime(1, 1, 2, tzinfo=UTC).timestamp()
_MAX_S = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


def from_ms(ms: int | float | None) -> datetime | None:
    """A stored millisecond stamp as a datetime; 0, None or a stamp no datetime can hold is unknown."""
    if not ms or not _MIN_S <= ms / 1000 <= _MAX_S:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def align(seconds: float, width: int, offset: int = 0) -> int:
    """The start of the ``width``-second bucket holding ``seconds``; buckets start at multiples of
    ``width`` shifted by ``-offset`` (a zone's UTC offset makes daily buckets local days)."""
    return math.floor((seconds + offset) / width) * width - offset


def align_array(seconds: np.ndarray, width: int, offset: int = 0) -> np.ndarray:
    """:func:`align` over an array of unix seconds."""
    return np.floor((seconds + offset) / width) * width - offset
