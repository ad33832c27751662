"""Helpers shared by the spool tests: a settable clock and deterministic payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.spool import Spool


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def payload_for(seq: int, size: int = 100) -> bytes:
    """Content that identifies its seq, so a test can tell a record from its neighbours."""
    stem = f"seq={seq};".encode()
    return (stem * (size // len(stem) + 1))[:size]


def read_all(spool: Spool, after_seq: int = 0) -> list[tuple[int, bytes]]:
    return list(spool.pending(after_seq))
