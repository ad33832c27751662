"""A clock tests move by hand: ``clock.set("2026-06-03T10:00:00+08:00")``."""

from __future__ import annotations

from datetime import datetime


class FakeClock:
    def __init__(self, start: str) -> None:
        self.t = 0.0
        self.set(start)

    def __call__(self) -> float:
        return self.t

    def set(self, when: str) -> None:
        moment = datetime.fromisoformat(when)
        assert moment.tzinfo is not None, "give the time zone"
        self.t = moment.timestamp()

    def advance(self, seconds: float) -> None:
        self.t += seconds
