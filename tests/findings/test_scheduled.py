"""Scheduled runs feed the ticket service like manual ones; maintenance windows silence them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from collector.app import CollectorApp
from collector.config import CollectorConfig
from collector.findings import records
from collector.inspection import runs
from collector.inspection.config import section
from collector.inspection.service import InspectionService
from collector.tickets import repository as repo
from collector.tickets import ticket_service
from collector.tickets.model import Source
from tests.collector_inspection.clock import FakeClock
from tests.collector_inspection.test_service import fill


def scheduled_runs(tmp_path: Path, tickets: dict[str, Any]) -> CollectorApp:
    """The daily and monthly runs of acme that fall due after a three-day outage, run to completion."""
    clock = FakeClock("2026-05-30T13:00:00+08:00")
    app = CollectorApp(CollectorConfig.model_validate({
        "data_dir": str(tmp_path / "data"), "insecure": True, "tickets": tickets,
        "customers": [{"id": "acme", "name": "ACME 有限公司", "timezone": "Asia/Shanghai", "language": "zh"}]}),
        clock=clock)
    fill(app, clock() - 35 * 86400, datetime.fromisoformat("2026-06-03T10:00:00+08:00").timestamp())
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    assert service.run_pending() == []
    service.stop_sync()
    clock.set("2026-06-03T10:00:00+08:00")
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    due = service.run_pending()
    assert sorted(d.profile for d in due) == ["daily", "monthly"]
    service.wait_idle(60)
    service.stop_sync()
    return app


def test_scheduled_runs_open_one_ticket_per_finding(tmp_path: Path) -> None:
    app = scheduled_runs(tmp_path, {})
    with app.engine.connect() as conn:
        found = [t for t in repo.list_tickets(conn, limit=100) if t.source == Source.INSPECTION]
    disk = [t for t in found if t.check_id == "resources.disk_space"]
    # db-1's /data at 95 % is critical in both runs: one ticket, seen twice.
    assert [(t.host_id, t.subject, t.severity.value, t.occurrences) for t in disk] == [("db-1", "/data", "L2", 2)]
    assert disk[0].title == "db-1 磁盘空间 /data：严重"
    assert disk[0].registration.customer_unit == "ACME 有限公司" and "measured 95%" in disk[0].registration.description
    assert disk[0].created_at == datetime.fromisoformat("2026-06-03T10:00:00+08:00")
    assert {t.fingerprint for t in found} == {f"{t.host_id}|{t.check_id}|{t.subject}" for t in found}
    assert any(t.check_id == "logs.oom_kills" and t.host_id == "db-1" for t in found)


def test_a_maintenance_window_silences_inspection_tickets(tmp_path: Path) -> None:
    window = {"host": "db-1", "start": "2026-06-03T00:00:00+08:00", "end": "2026-06-04T00:00:00+08:00",
              "reason": "disk replacement"}
    app = scheduled_runs(tmp_path, {"maintenance": [window]})
    with app.engine.connect() as conn:
        hosts = {t.host_id for t in repo.list_tickets(conn, limit=100) if t.source == Source.INSPECTION}
        monthly = next(r for r in runs.list_runs(conn) if r["profile"] == "monthly")
        memo = records.memo(conn, ticket_service(app).cfg.policy, monthly["id"])
    assert "db-1" not in hosts
    # The memo still lists db-1's problems the policy wants tickets for; the window left them without one.
    silenced = [(m.check_id, m.subject, m.ticket) for m in memo if m.host_id == "db-1"]
    assert ("resources.disk_space", "/data", None) in silenced
