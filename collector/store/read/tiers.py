"""Which rollup tier to read for a window: one rule for every reader.

A tier can answer a window only if its retention still holds the window's start. Among those, the
coarsest tier not coarser than the wanted resolution is read (a reader that wants 10-minute points
gets the 1-minute tier and aggregates up); a resolution finer than every tier gets the finest that
holds the start; a start older than every finer tier's retention gets the coarsest tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Table

from collector.store.schema import rollup_1h, rollup_1h_blocks, rollup_1m


@dataclass(frozen=True)
class Tier:
    """A rollup tier: its live table, bucket width, name (the retention key) and, if it has one, the
    table of its packed blocks (see :mod:`collector.store.compaction`)."""

    table: Table
    width_s: int
    name: str
    blocks: Table | None = None


# Finest first; the names are the keys of the retention settings.
TIERS: tuple[Tier, ...] = (Tier(rollup_1m, 60, "1m"), Tier(rollup_1h, 3600, "1h", rollup_1h_blocks))


def holds(tier: Tier, since_s: float, now_s: float, retention_s: Mapping[str, float]) -> bool:
    return since_s >= now_s - retention_s[tier.name]


def pick_tier(since_s: float, step_s: float, now_s: float, retention_s: Mapping[str, float]) -> Tier:
    """The tier to read from ``since_s`` on at a resolution of ``step_s`` seconds."""
    usable = [t for t in TIERS if holds(t, since_s, now_s, retention_s)]
    if not usable:
        return TIERS[-1]
    fitting = [t for t in usable if t.width_s <= step_s]
    return fitting[-1] if fitting else usable[0]


def resolution_for(since_s: float, until_s: float, max_buckets: int) -> int:
    """The finest tier width giving at most ``max_buckets`` buckets over the window (else the coarsest)."""
    step = max(1.0, (until_s - since_s) / max_buckets)
    return next((t.width_s for t in TIERS if t.width_s >= step), TIERS[-1].width_s)


def tier_for_window(since_s: float, until_s: float, now_s: float, retention_s: Mapping[str, float],
                    max_buckets: int) -> Tier:
    """The finest tier that holds ``since`` and gives at most ``max_buckets`` buckets per series."""
    return pick_tier(since_s, resolution_for(since_s, until_s, max_buckets), now_s, retention_s)
