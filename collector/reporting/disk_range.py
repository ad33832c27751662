"""Disk usage of a customer's mounts in chart buckets with the range within each bucket.

The monthly disk charts show every mount's maximum per bucket; a mount that is emptied regularly
(a log partition rotated every night) is drawn as its envelope, whose lower edge is the minimum per
bucket. Both come from one read of the hourly tier (min of minima, max of maxima when merging).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from collector.reporting import usage as use
from collector.store.read import find_series, from_seconds, read_series, to_seconds
from inspections.catalogue import subject_of
from reports.model import Point

Minima = dict[tuple[str, str], list[Point]]  # (host id, mount) -> minimum per bucket


def load_disks(engine: Engine, host_ids: Sequence[str], since: datetime, until: datetime, step_s: float,
               offset_s: float = 0.0) -> tuple[use.Usage, Minima]:
    """Disk usage as :func:`usage.load_buckets` gives it, and each mount's minimum per bucket."""
    usage: use.Usage = {}
    minima: Minima = {}
    with engine.connect() as conn:
        refs = find_series(conn, host_ids, [use.DISK])
        for ref, data in read_series(conn, use.HOURLY, refs, to_seconds(since), to_seconds(until)):
            if not len(data):
                continue
            merged = data.rebucket(int(step_s), int(offset_s))
            usage.setdefault(ref.host_id, {}).setdefault(ref.name, []).append(
                use.Buckets(ref.labels, merged.ts, merged.avg, merged.max, merged.count))
            minima[(ref.host_id, subject_of(use.DISK, ref.labels))] = [
                (from_seconds(t), float(v)) for t, v in zip(merged.ts, merged.min, strict=True) if math.isfinite(v)]
    return usage, minima


def merge(usage: use.Usage, disks: use.Usage) -> use.Usage:
    """``usage`` with each host's disk series added."""
    for host_id, by_name in disks.items():
        usage.setdefault(host_id, {}).update(by_name)
    return usage
