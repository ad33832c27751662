"""Plain values that agent collectors and probes return.

A collector returns a list of :class:`Sample`; the agent stamps them with the collection time and
packs them, series-oriented, into the next upstream batch. Platform gaps are explicit: a collector
that cannot measure something on this platform returns no sample for it, never a made-up ``0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Labels = tuple[tuple[str, str], ...]


def labels_of(mapping: dict[str, str] | None = None) -> Labels:
    """Canonical (sorted) label tuple, usable as a dict key."""
    if not mapping:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in mapping.items()))


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured value of one series. ``name`` is ``<group>.<field>`` (see docs/metrics.md)."""

    name: str
    value: float
    labels: Labels = field(default=())

    @classmethod
    def of(cls, name: str, value: float, **labels: str) -> Sample:
        return cls(name, float(value), labels_of(labels))


@runtime_checkable
class Collector(Protocol):
    """One source of samples (Telegraf-style input). Instances may keep counter state for rates."""

    name: str
    default_interval: float

    def collect(self) -> list[Sample]:
        """Measure now. Rate collectors return no rate samples on their first call."""
        ...
