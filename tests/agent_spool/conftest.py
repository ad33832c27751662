from __future__ import annotations

import pytest

from tests.agent_spool.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
