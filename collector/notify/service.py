"""The ``notifications`` collector service: runs the outbox worker thread."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from collector.notify.config import NotificationsConfig
from collector.notify.outbox import OutboxWorker

if TYPE_CHECKING:
    from collector.app import CollectorApp


class NotifyService:
    name = "notifications"

    def __init__(self, app: CollectorApp, cfg: NotificationsConfig) -> None:
        self.worker = OutboxWorker(app.engine, cfg, app.clock)

    async def start(self) -> None:
        self.worker.start()

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.worker.stop)


def create_service(app: CollectorApp) -> NotifyService | None:
    cfg: NotificationsConfig = app.cfg.section("notifications")
    return NotifyService(app, cfg) if cfg.active else None
