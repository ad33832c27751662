"""The demo's service history: 90 days of tickets worked through the real ticket service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from collector.app import sync_customers
from collector.config import CollectorConfig
from collector.demo import demo_customers
from collector.reporting.ticket_stats import TicketData
from collector.simulator import FleetSpec, build_fleet
from collector.simulator.service_history import write_service_history
from collector.store.engine import open_engine
from collector.tickets import repository as repo
from collector.tickets.config import TicketsConfig
from collector.tickets.model import State
from collector.tickets.service import TicketService
from collector.tickets.tables import tickets

END = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _history(tmp_path: Path, seed: int = 1) -> tuple[Engine, CollectorConfig, list]:
    cfg = CollectorConfig.model_validate({"insecure": True, "customers": demo_customers(3)})
    engine = open_engine(f"sqlite:///{tmp_path / 'patrol.sqlite'}")
    sync_customers(engine, cfg)
    fleet = build_fleet(FleetSpec(agents=12, customers=3, seed=seed))

    def make(clock: Callable[[], float]) -> TicketService:
        return TicketService(engine, TicketsConfig(), {c.id: c for c in cfg.customers}, clock)

    return engine, cfg, write_service_history(make, fleet, END, seed=seed)


def _all(engine: Engine) -> list:
    with engine.connect() as conn:
        return [repo.row_to_ticket(r) for r in conn.execute(select(tickets).order_by(tickets.c.id))]


def test_every_customer_has_a_quarter_of_closed_tickets_from_every_source(tmp_path: Path) -> None:
    engine, _, worked = _history(tmp_path)
    rows = _all(engine)
    assert len(rows) == len(worked) >= 27
    assert {t.customer_id for t in rows} == {"acme", "huaxin", "globex"}
    assert all(t.state in (State.ARCHIVED, State.SURVEYED) for t in rows)
    assert all(END - timedelta(days=90) <= t.created_at < END for t in rows)
    assert set(Counter(t.source.value for t in rows)) == {"inspection", "forecast", "anomaly", "offline", "manual"}
    assert len({t.severity for t in rows}) == 4
    for t in rows:
        assert t.closure is not None and t.closure.cause and t.closure.solution and t.closure.prevention
    rated = [t for t in rows if t.satisfaction is not None]
    assert 0 < len(rated) < len(rows)
    # Customers read their own language: the Chinese customer's closures are in Chinese.
    huaxin = [t for t in rows if t.customer_id == "huaxin"]
    assert huaxin and all(any("\u4e00" <= ch <= "\u9fff" for ch in t.closure.cause) for t in huaxin)


def test_the_quarter_shows_sla_met_and_missed_a_repeat_fault_and_satisfaction(tmp_path: Path) -> None:
    engine, cfg, _ = _history(tmp_path)
    with engine.connect() as conn:
        for customer in cfg.customers:
            stats = TicketData(conn, TicketsConfig(), customer.id, customer.timezone, END - timedelta(days=91), END,
                                {})
            assert stats.repeats(), f"{customer.id}: no repeat fault within 90 days"
            outcomes = {r.clock: (r.met, r.breached) for r in stats.sla() if r.clock in ("respond", "restore")}
            assert any(met for met, _ in outcomes.values()), outcomes
            assert any(breached for _, breached in outcomes.values()), outcomes
            assert stats.satisfaction().ratings > 0


def test_same_seed_same_history(tmp_path: Path) -> None:
    a, _, _ = _history(tmp_path / "a")
    b, _, _ = _history(tmp_path / "b")

    def digest(engine: Engine) -> list[tuple]:
        return [(t.customer_id, t.host_id, t.title, t.severity, t.created_at, t.closure.cause if t.closure else None)
                for t in _all(engine)]

    assert digest(a) == digest(b)
