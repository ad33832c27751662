"""Long-running parts of the collector besides ingest: started and stopped with the process.

A feature contributes a factory ``(app) -> Service`` to :data:`FACTORIES`. Services start after the
store, ingest and gRPC server are up, in list order, and stop in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from collector.app import CollectorApp


class Service(Protocol):
    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


S = TypeVar("S")


def find_service(app: Any, kind: type[S]) -> S | None:
    """The running service of type ``kind`` in a collector app, if it was started."""
    return next((s for s in getattr(app, "services", []) if isinstance(s, kind)), None)


def _factories() -> list[Callable[[CollectorApp], Service | None]]:
    """Factories return None when their feature is not configured."""
    from collector.diagnostics.service import diagnostics_service
    from collector.export.service import export_service
    from collector.inspection.service import create_service as inspection_service
    from collector.pki.service import pki_service
    from collector.predict import predict_service
    from collector.quarantine.service import quarantine_service
    from collector.reporting.service import create_service as reporting_service
    from collector.ssh.poller import ssh_service
    from collector.tickets.runner import create_service as ticket_service

    return [
        pki_service,
        quarantine_service,
        inspection_service,
        ticket_service,
        predict_service,
        export_service,
        ssh_service,
        diagnostics_service,
        reporting_service,
    ]


FACTORIES = _factories
