"""The export as a collector service: started after ingest, stopped before it."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from collector.cluster.membership import leads
from collector.export import cursors
from collector.export.adopt import ADOPT_EVERY_S, adopt, orphans
from collector.export.config import ExportConfig
from collector.export.exporter import Exporter, create_exporter
from collector.export.writer import InfluxWriter

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.export")


class ExportService:
    name = "export"

    def __init__(self, exporter: Exporter, app: CollectorApp | None = None) -> None:
        self.exporter = exporter
        self.app = app
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.exporter.start)
        if self.app is not None:
            self._task = asyncio.create_task(self._adopt_loop(), name="patrol-export-adopt")

    async def _adopt_loop(self) -> None:
        app = self.app
        assert app is not None
        while True:
            await asyncio.sleep(ADOPT_EVERY_S)
            if not leads(app):
                continue
            try:
                await asyncio.to_thread(self.adopt_orphans)
            except Exception:
                log.exception("event=export_adoption_failed")

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
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
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
    return ExportService(create_exporter(app.engine, app.collector_id, influx, clock=app.clock), app)
