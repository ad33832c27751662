"""A ticket service over a real SQLite file with an injected clock, and signal builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from collector.config import Customer
from collector.notify.config import NotificationsConfig
from collector.notify.outbox import Outbox
from collector.notify.tables import notify_outbox
from collector.store.engine import open_engine
from collector.tickets import repository as repo
from collector.tickets.config import TicketsConfig
from collector.tickets.evaluate import SlaEvaluator
from collector.tickets.model import Severity, Signal, Source
from collector.tickets.service import TicketService

CUSTOMERS = {
    "acme": Customer(id="acme", name="ACME 有限公司", timezone="Asia/Shanghai", language="zh", address="北京市海淀区",
                     contacts=[{"name": "张三", "phone": "13800000000", "email": "zs@acme.example"}]),
    "globex": Customer(id="globex", name="Globex", timezone="Europe/Berlin"),
}


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.t = start.timestamp()

    def __call__(self) -> float:
        return self.t

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, tz=UTC)

    def advance(self, seconds: float = 0, **kw: float) -> None:
        self.t += seconds + timedelta(**kw).total_seconds()

    def set(self, t: datetime) -> None:
        self.t = t.timestamp()


class Harness:
    def __init__(self, tmp: Path, clock: FakeClock, tickets: dict[str, Any] | None = None,
                 notifications: dict[str, Any] | None = None) -> None:
        self.engine: Engine = open_engine(f"sqlite:///{tmp / 'patrol.sqlite'}")
        self.clock = clock
        self.cfg = TicketsConfig.model_validate(tickets or {})
        ncfg = NotificationsConfig.model_validate(notifications or {
            "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/unused"}},
            "routes": [{"channels": ["hook"]}]})
        self.svc = TicketService(self.engine, self.cfg, CUSTOMERS, clock, Outbox(ncfg, clock))
        self.evaluator = SlaEvaluator(self.svc)

    def timeline(self, ticket_id: int) -> list[tuple[str, str, dict[str, Any]]]:
        with self.engine.connect() as conn:
            return [(e.actor, e.action, e.details) for e in repo.timeline(conn, ticket_id)]

    def actions(self, ticket_id: int) -> list[str]:
        return [a for _, a, _ in self.timeline(ticket_id)]

    def clocks(self, ticket_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return repo.load_clocks(conn, ticket_id)

    def outbox(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(notify_outbox).order_by(notify_outbox.c.id))]

    def events(self, ticket_id: int | None = None) -> list[str]:
        return [r["event"] for r in self.outbox() if ticket_id is None or r["ticket_id"] == ticket_id]

    def sig(self, firing: bool | None, **kw: Any) -> Signal:
        return sig(firing, at=kw.pop("at", self.clock.now), **kw)

    def open_tickets(self) -> list[Any]:
        with self.engine.connect() as conn:
            return repo.list_tickets(conn, open_only=True)


def sig(firing: bool | None, host: str = "web-01", check: str = "disk.usage", subject: str = "/data",
        customer: str = "acme", severity: Severity = Severity.L3, source: Source = Source.INSPECTION,
        at: datetime | None = None, **kw: Any) -> Signal:
    return Signal(source=source, check_id=check, subject=subject, firing=firing,
                  observed_at=at or datetime(2020, 1, 1, tzinfo=UTC), host_id=host, customer_id=customer,
                  severity=severity, title=kw.pop("title", f"{check} {subject} on {host}"), **kw)
