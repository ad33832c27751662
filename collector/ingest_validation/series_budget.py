"""Caps on the number of series: per host and per collector.

The budget holds a hash of each known series of every connected host (seeded from the store when
the host connects, so a restart does not reset the count) and forgets a host when its stream
closes: memory follows the connected fleet, bounded by the per-collector cap.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select

from collector.store.read import decode_labels
from collector.store.samples import series_identity
from collector.store.schema import series


class SeriesBudget:
    def __init__(self, per_host: int, per_collector: int) -> None:
        self.per_host = per_host
        self.per_collector = per_collector
        self._known: dict[str, set[int]] = {}
        self.total = 0

    def seed(self, host_id: str, known: Iterable[int]) -> None:
        """Start tracking a host with the series the store already has for it."""
        self.release(host_id)
        found = set(known)
        self._known[host_id] = found
        self.total += len(found)

    def release(self, host_id: str) -> None:
        gone = self._known.pop(host_id, None)
        if gone is not None:
            self.total -= len(gone)

    def known(self, host_id: str) -> set[int]:
        """The series a host has (read-only for callers)."""
        return self._known.setdefault(host_id, set())

    def admit(self, host_id: str, key: int) -> str | None:
        """None when the series may be stored, else the reason it may not (and it is not counted)."""
        known = self.known(host_id)
        if key in known:
            return None
        if len(known) >= self.per_host:
            return "series_limit_host"
        if self.total >= self.per_collector:
            return "series_limit_collector"
        known.add(key)
        self.total += 1
        return None

    def hosts(self) -> int:
        return len(self._known)


def stored_series(engine: Engine, host_id: str) -> list[int]:
    """Hashes of the series a host has in the store (run off the event loop)."""
    with engine.connect() as conn:
        rows = conn.execute(select(series.c.name, series.c.labels).where(series.c.host_id == host_id))
        return [series_identity(name, tuple(sorted(decode_labels(labels).items()))) for name, labels in rows]
