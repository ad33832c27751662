"""Packs timestamped samples into series-oriented ``Samples`` messages."""

from __future__ import annotations

from agent.model import Labels, Sample
from protos.patrol.v1 import agent_pb2 as pb


class BatchBuilder:
    """Collects samples between flushes; each series' name and labels appear once per batch."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, Labels], tuple[list[int], list[float]]] = {}
        self.count = 0

    def add(self, ts_ms: int, samples: list[Sample]) -> None:
        for s in samples:
            entry = self._series.get((s.name, s.labels))
            if entry is None:
                entry = self._series[(s.name, s.labels)] = ([], [])
            entry[0].append(ts_ms)
            entry[1].append(s.value)
        self.count += len(samples)

    def __len__(self) -> int:
        return self.count

    def take(self) -> list[pb.Series]:
        """The accumulated series, leaving the builder empty."""
        out = [pb.Series(name=name, labels=dict(labels), timestamps_ms=ts, values=vs)
               for (name, labels), (ts, vs) in self._series.items()]
        self._series = {}
        self.count = 0
        return out
