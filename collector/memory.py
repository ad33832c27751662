"""Giving freed heap memory back to the operating system.

When thousands of agent streams close at once, CPython and gRPC free their objects, but glibc's
allocator keeps the pages in its arenas, so the process's RSS stays at its peak. ``malloc_trim``
returns them; elsewhere than glibc there is nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("patrol.memory")


def _libc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_TRIM = _libc_trim()


def release_freed_memory() -> bool:
    """Return free heap pages to the OS; True when something was released."""
    if _TRIM is None:
        return False
    return bool(_TRIM(0))


class TrimAfterDrop:
    """Trims the heap once the number of open streams fell by ``drop`` since the last peak or trim."""

    def __init__(self, drop: int = 500) -> None:
        self.drop = drop
        self._high = 0

    def observe(self, active: int) -> bool:
        """Call with the current count; True when a trim is due now."""
        if active > self._high:
            self._high = active
            return False
        if self._high - active >= self.drop or (active == 0 and self._high > 0):
            self._high = active
            return True
        return False
