"""The export as a collector service: started after ingest, stopped before it."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from collector.export import cursors
from collector.export.config import ExportConfig
from collector.export.exporter import Exporter, create_exporter

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.export")


class ExportService:
    name = "export"

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.exporter.start)

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.exporter.stop)


def export_service(app: CollectorApp) -> ExportService | None:
    """The export service, or None when ``export.influx`` is not configured.

    Without export this collector's cursors are released, so that they stop holding back raw and
    events retention.
    """
    cfg: ExportConfig = app.cfg.section("export")
    if cfg.influx is None:
        if cursors.release(app.engine, app.collector_id):
            log.info("event=export_cursors_released reason=export_not_configured")
        return None
    influx = cfg.influx
    log.info("event=export_configured url=%s org=%s bucket=%s events=%s batch_size=%d max_queue=%d auth=%s",
             influx.url, influx.org, influx.bucket, influx.events, influx.batch_size, influx.max_queue,
             "token" if influx.secret() else "none")
    return ExportService(create_exporter(app.engine, app.collector_id, influx, clock=app.clock))
