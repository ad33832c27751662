"""The export as a collector service: started after ingest, stopped before it.

The exporter batches and writes on its own thread (it follows the ingest log as it grows); the
adoption of what dead members of a group left unexported is a periodic job, ``export-adopt``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from collector.export.adopt import ADOPT_EVERY_S, adopt, orphans
from collector.export.config import ExportConfig
from collector.export.exporter import Exporter, create_exporter
from collector.export.writer import InfluxWriter
from collector.scheduler import Every, JobSpec
from collector.store import cursors

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.export")


class ExportService:
    name = "export"

    def __init__(self, exporter: Exporter, app: CollectorApp | None = None) -> None:
        self.exporter = exporter
        self.app = app

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.exporter.start)

    def adopt_orphans(self) -> list[str]:
        """On the group's leader: export what dead members left behind."""
        app = self.app
        assert app is not None
        cfg = self.exporter.cfg
        members = orphans(app.engine, app.collector_id, app.cluster.ttl_ms)
        for member in members:
            adopt(app.engine, member, cfg, InfluxWriter(cfg), app.clock)
        return members

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.exporter.stop)


def jobs(service: ExportService) -> list[JobSpec]:
    if service.app is None:
        return []
    return [JobSpec("export-adopt", "Export: deliver what stopped collectors of the group left unexported",
                    service.adopt_orphans, Every(ADOPT_EVERY_S))]


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
    return ExportService(create_exporter(app.engine, app.collector_id, influx, clock=app.clock), app)
