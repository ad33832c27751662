"""The inspection service in a collector app: scheduled runs after an outage, manual runs, storage."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from collector.app import CollectorApp
from collector.config import CollectorConfig
from collector.inspection import runs
from collector.inspection.config import section
from collector.inspection.runs import RunRequest
from collector.inspection.service import InspectionRequestError, InspectionService
from collector.inspection.tables import inspection_findings, inspection_runs
from tests.collector_inspection.clock import FakeClock
from tests.collector_inspection.store import events, hello, ingest, samples

HOUR = 3600.0


def make_app(tmp_path: Path, clock: FakeClock, inspections: dict[str, Any] | None = None) -> CollectorApp:
    cfg = CollectorConfig.model_validate({
        "data_dir": str(tmp_path / "data"), "insecure": True,
        "customers": [{"id": "acme", "name": "ACME", "timezone": "Asia/Shanghai", "language": "zh"},
                      {"id": "globex", "name": "Globex", "timezone": "Europe/Berlin"}],
        "inspections": inspections or {},
    })
    return CollectorApp(cfg, clock=clock)


def fill(app: CollectorApp, start: float, end: float, disk: float = 50.0) -> None:
    """Two acme hosts with 10-minute samples from ``start`` to ``end``; db-1's /data is fuller."""
    stamps = [start + i * 600 for i in range(int((end - start) // 600) + 1)]
    messages = []
    for n, host in enumerate(("web-1", "db-1"), start=1):
        full = disk + (45 if host == "db-1" else 0)
        messages += [hello(host, "acme", host, boot_ms=int((start - 86400) * 1000)),
                     samples(host, 1, [("cpu.busy_percent", {}, [(t, 20.0 + n) for t in stamps]),
                                       ("mem.available_percent", {}, [(t, 60.0) for t in stamps]),
                                       ("disk.used_percent", {"mount": "/data"}, [(t, full) for t in stamps])]),
                     events(host, 2, [(end - HOUR, "kernel.oom_kill", 4, 0)] if host == "db-1" else [])]
    ingest(app.engine, messages, end)


def test_a_monthly_run_missed_during_an_outage_runs_once_at_start_and_is_stored(tmp_path: Path) -> None:
    clock = FakeClock("2026-05-30T13:00:00+08:00")
    app = make_app(tmp_path, clock)
    fill(app, clock() - 35 * 86400, datetime.fromisoformat("2026-06-03T10:00:00+08:00").timestamp())
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    assert service.run_pending() == []
    service.stop_sync()  # the collector goes down for three days and a bit

    clock.set("2026-06-03T10:00:00+08:00")
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    due = service.run_pending()
    assert sorted((d.customer, d.profile) for d in due) == [("acme", "daily"), ("acme", "monthly"),
                                                            ("globex", "daily"), ("globex", "monthly")]
    service.wait_idle(60)
    assert service.run_pending() == []
    with app.engine.connect() as conn:
        stored = runs.list_runs(conn)
        acme = {r["profile"]: r for r in stored if r["customer_id"] == "acme"}
        globex = {r["profile"]: r for r in stored if r["customer_id"] == "globex"}
        assert len(stored) == 4
        monthly = acme["monthly"]
        assert monthly["trigger"] == "schedule" and monthly["status"] == "completed", monthly
        assert datetime.fromisoformat(monthly["scheduled_for"]) == datetime.fromisoformat("2026-06-01T02:00:00+08:00")
        assert monthly["progress"] == {"done": 2, "total": 2}
        # The scheduled monthly run inspects the calendar month that has just ended, in the customer's time zone.
        assert datetime.fromisoformat(monthly["since"]) == datetime.fromisoformat("2026-05-01T00:00:00+08:00")
        assert datetime.fromisoformat(monthly["until"]) == datetime.fromisoformat("2026-06-01T00:00:00+08:00")
        assert acme["daily"]["coalesced"] == 4 and acme["daily"]["status"] == "completed"
        # Every run is stored, also the ones that could not run: globex has no hosts.
        assert globex["monthly"]["status"] == "failed" and "no hosts" in globex["monthly"]["error"]
        result = runs.load_result(conn, monthly["id"])
        db = next(h for h in result.hosts if h.hostname == "db-1")
        disk = next(f for f in db.findings if f.check_id == "resources.disk_space")
        assert (disk.subject, disk.status, disk.observed) == ("/data", "critical", 95.0)
        # db-1's OOM kill happened on 3 June: not May's.
        oom = next(f for f in db.findings if f.check_id == "logs.oom_kills")
        assert oom.status == "ok" and oom.observed == 0
        web = next(h for h in result.hosts if h.hostname == "web-1")
        assert web.score > db.score
        assert result.customers[0].score == monthly["customer_score"]
        assert len(runs.checklist_rows(conn, monthly["id"])) >= 10
    service.stop_sync()
    app.engine.dispose()


def test_manual_runs_validate_and_a_previous_run_sets_the_reboot_reference(tmp_path: Path) -> None:
    clock = FakeClock("2026-06-03T10:00:00+08:00")
    app = make_app(tmp_path, clock, {"schedules": []})
    fill(app, clock() - 3 * 86400, clock())
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    for request, problem in [
        (RunRequest("acme", "weekly", "api"), "unknown profile 'weekly'"),
        (RunRequest("acme", "daily", "api", hosts=["web-1", "mail-9"]), r"no host\(s\) 'mail-9'"),
        (RunRequest("globex", "daily", "api"), "no hosts in the store yet"),
        (RunRequest("initech", "daily", "api"), "unknown customer 'initech'"),
    ]:
        with pytest.raises(InspectionRequestError, match=problem):
            service.start_run(request)
    # Hold the worker so the run stays queued: its progress is visible before it starts.
    gate = threading.Event()
    service.executor.submit(gate.wait, 60)
    first = service.start_run(RunRequest("acme", "daily", "manual", requested_by="alice", hosts=["web-1"]))
    assert service.progress(first) == (0, 1)
    with app.engine.connect() as conn:
        assert runs.get_run(conn, first)["status"] == "queued"
    gate.set()
    service.wait(first, 60)
    assert service.progress(first) is None  # finished: the stored row has the final count
    clock.advance(HOUR)
    second = service.start_run(RunRequest("acme", "daily", "api"))
    service.wait(second, 60)
    with app.engine.connect() as conn:
        one, two = runs.get_run(conn, first), runs.get_run(conn, second)
        assert one["status"] == two["status"] == "completed"
        assert one["requested_hosts"] == ["web-1"] and one["progress"]["total"] == 1
        assert one["requested_by"] == "alice" and one["trigger"] == "manual"
        assert two["previous_run"] == one["started"]
        assert [h["hostname"] for h in runs.host_results(conn, second)] == ["db-1", "web-1"]
        problems = runs.findings(conn, second, ("critical", "warning", "unknown"))
        assert problems and all(f["status"] != "ok" for f in problems)
        assert all(f["evidence"]["source"] and f["recommendation"]["zh"] for f in problems)
        n_findings = conn.execute(select(inspection_findings.c.id).where(inspection_findings.c.run_id == second)).all()
        assert len(n_findings) > len(problems)  # ok findings are stored too
    service.stop_sync()
    app.engine.dispose()


def test_stopping_cancels_queued_runs_and_a_restart_fails_abandoned_ones(tmp_path: Path) -> None:
    clock = FakeClock("2026-06-03T10:00:00+08:00")
    app = make_app(tmp_path, clock, {"schedules": []})
    fill(app, clock() - 2 * 86400, clock())
    # A run left "running" by a crash of this collector.
    crashed = runs.create_run(app.engine, RunRequest("acme", "daily", "api"), "daily", None, [], app.collector_id,
                              int(clock() * 1000))
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    with app.engine.connect() as conn:
        row = runs.get_run(conn, crashed)
    assert row["status"] == "failed" and "interrupted" in row["error"]
    ids = [service.start_run(RunRequest("acme", "monthly", "api")) for _ in range(4)]
    service.stop_sync()
    with app.engine.connect() as conn:
        statuses = [conn.execute(select(inspection_runs.c.status).where(inspection_runs.c.id == i)).scalar_one()
                    for i in ids]
    assert statuses[0] in ("completed", "cancelled")
    assert "cancelled" in statuses and not set(statuses) & {"queued", "running"}
    with pytest.raises(InspectionRequestError, match="stopping"):
        service.start_run(RunRequest("acme", "daily", "api"))
    app.engine.dispose()


def test_checklist_rows_are_filled_in_and_validated(tmp_path: Path) -> None:
    clock = FakeClock("2026-06-03T10:00:00+08:00")
    app = make_app(tmp_path, clock, {"schedules": []})
    fill(app, clock() - 86400, clock())
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    run_id = service.start_run(RunRequest("acme", "daily", "api"))
    service.wait(run_id, 60)
    rows = runs.set_checklist(app.engine, run_id, [("cabling", "ok", "labels renewed"),
                                                   ("manual.backup_restore", "issue", "restore took 3 h")],
                              "alice", int(clock() * 1000))
    by_id = {r.item_id: r for r in rows}
    assert by_id["manual.cabling"].result == "ok" and by_id["manual.cabling"].remark == "labels renewed"
    assert by_id["manual.cabling"].checked_by == "alice"
    assert by_id["manual.cabling"].checked_at == datetime.fromtimestamp(clock(), UTC)
    assert by_id["manual.backup_restore"].result == "issue"
    assert by_id["manual.screen"].result is None
    with pytest.raises(runs.ChecklistUpdateError, match="unknown checklist row 'cables'"):
        runs.set_checklist(app.engine, run_id, [("cables", "ok", None)], "alice", 0)
    with pytest.raises(runs.ChecklistUpdateError, match="'fine' is not one of"):
        runs.set_checklist(app.engine, run_id, [("cabling", "fine", None)], "alice", 0)
    cleared = {r.item_id: r for r in runs.set_checklist(app.engine, run_id, [("cabling", None, None)], "bob", 0)}
    assert cleared["manual.cabling"].result is None and cleared["manual.cabling"].remark == "labels renewed"
    service.stop_sync()
    app.engine.dispose()


def test_calendar_months_by_hand_by_name_and_refused_when_not_begun(tmp_path: Path) -> None:
    clock = FakeClock("2026-06-03T10:00:00+08:00")
    app = make_app(tmp_path, clock, {"schedules": []})
    fill(app, clock() - 40 * 86400, clock())
    service = InspectionService(app, section(app.cfg))
    service.start_sync()
    for period, problem in [("2026-07", "2026-07 has not begun yet"), ("2026Q2", "cannot read period '2026Q2'"),
                            ("June", "cannot read period 'June'")]:
        with pytest.raises(InspectionRequestError, match=problem):
            service.start_run(RunRequest("acme", "monthly", "api", period=period))
    with pytest.raises(InspectionRequestError, match="a period such as '2026-05' applies to calendar profiles"):
        service.start_run(RunRequest("acme", "daily", "api", period="2026-05"))
    may = service.start_run(RunRequest("acme", "monthly", "api", period="2026-05"))
    service.wait(may, 60)
    so_far = service.start_run(RunRequest("acme", "monthly", "manual"))
    service.wait(so_far, 60)
    with app.engine.connect() as conn:
        may_run, june_run = runs.get_run(conn, may), runs.get_run(conn, so_far)
        assert may_run["status"] == june_run["status"] == "completed"
        assert (datetime.fromisoformat(may_run["since"]), datetime.fromisoformat(may_run["until"])) == (
            datetime.fromisoformat("2026-05-01T00:00:00+08:00"), datetime.fromisoformat("2026-06-01T00:00:00+08:00"))
        # By hand without a period: this month so far, and reboots count from where May's inspection ended.
        assert datetime.fromisoformat(june_run["since"]) == datetime.fromisoformat("2026-06-01T00:00:00+08:00")
        assert datetime.fromisoformat(june_run["until"]) == datetime.fromtimestamp(clock(), UTC)
        assert june_run["previous_run"] == may_run["until"]
        result = runs.load_result(conn, so_far)
        db = next(h for h in result.hosts if h.hostname == "db-1")
        assert next(f for f in db.findings if f.check_id == "logs.oom_kills").observed == 1
    service.stop_sync()
    app.engine.dispose()


def test_a_run_keeps_a_warning_the_previous_run_found_until_the_value_recovers(tmp_path: Path) -> None:
    """Interface errors just under the warning level after a run that found them above it: the next run of
    the same profile keeps the warning (recovery levels), where the levels alone would say ok."""
    clock = FakeClock("2026-06-03T10:00:00+08:00")
    app = make_app(tmp_path, clock, {"schedules": []})
    month = datetime.fromisoformat("2026-06-01T00:00:00+08:00").timestamp()

    def nic(seq: int, start: float, end: float, share_pct: float) -> None:
        stamps = [start + i * 600 for i in range(int((end - start) // 600) + 1)]
        ingest(app.engine, [hello("web-1", "acme", "web-1", boot_ms=int((month - 86400) * 1000)),
                            samples("web-1", seq, [
                                ("net.rx_packets_per_s", {"interface": "eth0"}, [(t, 20_000.0) for t in stamps]),
                                ("net.rx_errors_per_s", {"interface": "eth0"},
                                 [(t, 20_000.0 * share_pct / 100) for t in stamps])])], end)

    nic(1, month, clock(), 0.011)
    service = InspectionService(app, section(app.cfg))
    service.start_sync()

    def errors(run_id: int) -> dict[str, Any]:
        with app.engine.connect() as conn:
            [found] = [f for f in runs.findings(conn, run_id, None) if f["check_id"] == "network.interface_errors"]
        return found

    first = service.start_run(RunRequest("acme", "monthly", "api"))
    service.wait(first, 60)
    assert errors(first)["status"] == "warning"
    clock.set("2026-06-20T10:00:00+08:00")
    nic(2, datetime.fromisoformat("2026-06-03T10:10:00+08:00").timestamp(), clock(), 0.008)
    second = service.start_run(RunRequest("acme", "monthly", "api"))
    service.wait(second, 60)
    held = errors(second)
    assert 0.005 < held["observed"] < 0.01  # under the warning level, above its recovery level
    assert held["status"] == "warning" and "0.005%" in held["note"]["en"]
    service.stop_sync()
    app.engine.dispose()
