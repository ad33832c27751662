"""Helpers shared by the collector tests: a manual clock and the metric catalogue."""

from __future__ import annotations

from agent.model import Sample
from inspections.catalogue import catalogue as metric_catalogue


class ManualClock:
    """A monotonic clock that moves only when told, so rates have a known denominator."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def catalogue() -> dict[str, frozenset[str]]:
    """Series name -> label keys, from the metric catalogue (inspections/metrics.yaml)."""
    return {m.name: frozenset(m.labels) for m in metric_catalogue().metrics.values()}


def assert_catalogued(samples: list[Sample]) -> None:
    """Every sample uses a catalogued name with exactly the catalogued label keys."""
    known = catalogue()
    for s in samples:
        assert s.name in known, f"{s.name} is not in the metric catalogue"
        assert frozenset(k for k, _ in s.labels) == known[s.name], f"{s.name} labels {s.labels}"
        assert isinstance(s.value, float), f"{s.name} value {s.value!r} is not a float"


def by_key(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(name, labels) -> value, asserting that no series appears twice."""
    result: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for s in samples:
        key = (s.name, s.labels)
        assert key not in result, f"duplicate series {key}"
        result[key] = s.value
    return result


def values(samples: list[Sample]) -> dict[str, float]:
    """name -> value for collectors whose series have no labels."""
    return {name: value for (name, labels), value in by_key(samples).items() if not labels}
