"""Counts of dropped points and events, by reason, as reported to the agent, /metrics and the host."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Rejections:
    samples: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.samples) or bool(self.events)

    def add(self, other: Rejections) -> None:
        self.samples.update(other.samples)
        self.events.update(other.events)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"samples": dict(self.samples), "events": dict(self.events)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Rejections:
        d = d or {}
        return cls(Counter({k: int(v) for k, v in (d.get("samples") or {}).items()}),
                   Counter({k: int(v) for k, v in (d.get("events") or {}).items()}))


class InvalidMessage(Exception):
    """A structurally broken message: it ends its stream with INVALID_ARGUMENT."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
