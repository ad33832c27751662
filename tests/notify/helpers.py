from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from collector.notify.config import NotificationsConfig
from collector.notify.model import Notification
from collector.notify.outbox import Outbox, OutboxWorker
from collector.notify.tables import notify_outbox
from collector.store.engine import open_engine
from tests.tickets.helpers import FakeClock


class OutboxHarness:
    def __init__(self, tmp: Path, cfg: dict[str, Any], clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock(datetime(2025, 6, 2, 2, 0, tzinfo=UTC))
        self.engine = open_engine(f"sqlite:///{tmp / 'patrol.sqlite'}")
        self.cfg = NotificationsConfig.model_validate(cfg)
        self.outbox = Outbox(self.cfg, self.clock)
        self.worker = OutboxWorker(self.engine, self.cfg, self.clock)

    def enqueue(self, title: str = "disk fills up", customer: str = "acme", severity: str = "L2",
                event: str = "opened", **kw: Any) -> list[str]:
        n = Notification(event=event, title=title, text=f"{title}: details", created_at=self.clock.now,
                         customer_id=customer, severity=severity, ticket_id=kw.pop("ticket_id", 1), **kw)
        with self.engine.begin() as conn:
            return self.outbox.enqueue(conn, n)

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(notify_outbox).order_by(notify_outbox.c.id))]

    def close(self) -> None:
        self.worker.stop()
        self.engine.dispose()
