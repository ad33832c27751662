"""The one way to read rollups: tier choice, label codec, time conversion and columnar bulk reads.

Inspections (:class:`collector.inspection.data.StoreData`), predictions, reports and the HTTP API
read the rollup tiers through this package, so they pick the same tier for the same window, decode
labels the same way and see the same buckets.
"""

from collector.store.read.columnar import (
    NO_BUCKETS,
    Rollups,
    SeriesRef,
    chunks,
    find_series,
    read_rollups,
    read_series,
)
from collector.store.read.labels import decode_labels, encode_labels
from collector.store.read.tiers import pick_tier, resolution_for, tier_for_window
from collector.store.read.timeutil import align, align_array, from_ms, from_seconds, to_seconds

__all__ = [
    "NO_BUCKETS", "Rollups", "SeriesRef", "align", "align_array", "chunks", "decode_labels", "encode_labels",
    "find_series", "from_ms", "from_seconds", "pick_tier", "read_rollups", "read_series",
    "resolution_for", "tier_for_window", "to_seconds",
]
