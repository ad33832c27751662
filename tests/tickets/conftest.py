from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.tickets.helpers import FakeClock, Harness

# A Monday, 10:00 in Shanghai.
MONDAY_10_SH = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_10_SH)


@pytest.fixture
def h(tmp_path: Path, clock: FakeClock) -> Harness:
    return Harness(tmp_path, clock, {"noise": {"repeat_note_every": 0}})
