from __future__ import annotations

import pytest

from tests.agent_logs.helpers import LINUX_LOG, OPENSSH_LOG, FakeClock, sample_lines


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def openssh_lines() -> list[str]:
    return sample_lines(OPENSSH_LOG)


@pytest.fixture(scope="session")
def linux_lines() -> list[str]:
    return sample_lines(LINUX_LOG)
