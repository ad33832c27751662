"""The agent trims its C heap after start-up where glibc offers malloc_trim."""

from __future__ import annotations

import platform
import sys

import pytest

from agent.heap import release_free_memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_free_memory_is_released_on_glibc() -> None:
    garbage = [bytes(4096) for _ in range(10_000)]
    del garbage
    assert release_free_memory() is True
