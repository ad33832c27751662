"""Long-running parts of the collector besides ingest: started and stopped with the process.

A feature contributes a factory ``(app) -> Service`` to :data:`FACTORIES`. Services start after the
store, ingest and gRPC server are up, in list order, and stop in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collector.app import CollectorApp


class Service(Protocol):
    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def _factories() -> list[Callable[[CollectorApp], Service | None]]:
    """Factories return None when their feature is not configured."""
    from collector.inspection.service import create_service as inspection_service
    from collector.predict import predict_service
    from collector.tickets.runner import create_service as ticket_service

    return [
        inspection_service,
        predict_service,
        ticket_service,
    ]


FACTORIES = _factories
