"""Long-running parts of the collector besides ingest: started and stopped with the process.

Each feature declares its service factory ``(app) -> Service | None`` in its ``feature`` module
(see :mod:`collector.features`). Services start after the store, ingest and gRPC server are up, in
registry order, and stop in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from collector.features import Feature, features, resolve

if TYPE_CHECKING:
    from collector.app import CollectorApp


class Service(Protocol):
    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


S = TypeVar("S")

ServiceFactory = Callable[["CollectorApp"], "Service | None"]


def find_service(app: Any, kind: type[S]) -> S | None:
    """The running service of type ``kind`` in a collector app, if it was started."""
    return next((s for s in getattr(app, "services", []) if isinstance(s, kind)), None)


def factories() -> list[tuple[Feature, ServiceFactory]]:
    """Each feature with a service, with its factory (which returns None when it is not configured)."""
    return [(f, resolve(f.service)) for f in features() if f.service is not None]
