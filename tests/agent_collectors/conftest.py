from __future__ import annotations

import pytest

from tests.agent_collectors.helpers import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
