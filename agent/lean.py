"""Keeping modules the agent never uses out of its process.

asyncio imports ``ssl`` for TLS on its own transports, which maps OpenSSL's libssl and libcrypto
(about 4.5 MB resident). The agent's only asyncio user is the gRPC stream, whose TLS is gRPC's own
(BoringSSL, inside grpcio), so :func:`import_event_loop` imports asyncio and gRPC with ``ssl``
hidden. asyncio then has no TLS of its own in the agent; ``import ssl`` keeps working afterwards
for the parts that use it directly (the TLS and HTTP probes, enrollment).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import protos.forking  # noqa: F401  (before gRPC is imported)


@contextmanager
def hidden(*names: str) -> Iterator[None]:
    """Imports inside the block see ``names`` as not installed, unless they are loaded already."""
    hide = [name for name in names if name not in sys.modules]
    for name in hide:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules: ImportError
    try:
        yield
    finally:
        for name in hide:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def import_event_loop() -> None:
    """Import asyncio and gRPC's asyncio API without asyncio's TLS (a no-op once asyncio is loaded)."""
    with hidden("ssl"):
        import asyncio  # noqa: F401

        import grpc.aio  # noqa: F401


# Modules that only start-up uses: the command line (argparse and the gettext it imports) and the
# configuration check, which runs in a child and hands back the validated configuration.
STARTUP_ONLY = ("argparse", "gettext", "agent.configcheck")


def forget(*names: str) -> None:
    """Drop ``names`` from ``sys.modules`` so that their code is freed once nothing else uses it.

    A later ``import`` loads them afresh. Only modules that no long-lived object of the agent
    refers to belong here, or the memory stays in use.
    """
    for name in names:
        sys.modules.pop(name, None)
