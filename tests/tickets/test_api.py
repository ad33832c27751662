"""The ticket API through FastAPI's TestClient over a real SQLite store, with the app's clock injected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.api import create_api
from collector.app import CollectorApp
from collector.config import CollectorConfig
from collector.tickets import process_findings, process_forecasts
from inspections.forecast import forecast
from inspections.signals import CapacityForecast, InputWindow
from tests.tickets.helpers import FakeClock
from tests.tickets.test_sources import batch, filling_disk, finding

ENGINEER = {"Authorization": "Bearer eng-token"}
VIEWER = {"Authorization": "Bearer view-token"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[CollectorApp, FakeClock]]:
    clock = FakeClock(datetime(2025, 6, 6, 10, 0, tzinfo=UTC))  # Friday 18:00 in Beijing
    cfg = CollectorConfig.model_validate({
        "data_dir": str(tmp_path), "insecure": True,
        "api": {"tokens": [{"name": "bob", "role": "engineer", "token": "eng-token"},
                           {"name": "viewer", "role": "viewer", "token": "view-token"}]},
        "customers": [{"id": "acme", "name": "ACME", "timezone": "Asia/Shanghai", "language": "zh"},
                      {"id": "globex", "name": "Globex", "timezone": "Europe/Berlin"}],
        "tickets": {"customers": {"acme": {"profile": "software-plan-5x8"}}},
    })
    a = CollectorApp(cfg, clock=clock)
    yield a, clock
    a.engine.dispose()


@pytest.fixture
def client(app: tuple[CollectorApp, FakeClock]) -> TestClient:
    return TestClient(create_api(app[0]))


def post(client: TestClient, path: str, body: dict[str, Any], status: int = 200) -> Any:
    r = client.post(path, json=body, headers=ENGINEER)
    assert r.status_code == status, r.text
    return r.json()


def test_roles_viewer_reads_engineer_changes(client: TestClient) -> None:
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.get("/api/v1/tickets", headers=VIEWER).json() == []
    r = client.post("/api/v1/tickets", json={"customer_id": "acme", "title": "x"}, headers=VIEWER)
    assert r.status_code == 403 and "needs engineer" in r.json()["detail"]


def test_manual_ticket_through_its_life(client: TestClient, app: tuple[CollectorApp, FakeClock]) -> None:
    _, clock = app
    t = post(client, "/api/v1/tickets", {
        "customer_id": "acme", "title": "打印服务异常", "description": "print spooler stops", "severity": "二级",
        "reporter": "customer:张三", "registration": {"phone": "010-1234", "channel": "hotline",
                                                      "impact_scope": "front desk"}})
    assert t["severity"] == "L2" and t["state"] == "registered" and t["reporter"] == "customer:张三"
    assert t["registration"]["customer_unit"] == "ACME" and t["registration"]["phone"] == "010-1234"
    assert t["profile"]["name"] == "software-plan-5x8" and t["timezone"] == "Asia/Shanghai"
    respond = t["clocks"][0]
    assert respond["clock"] == "respond" and respond["target_s"] == 4 * 3600
    # Friday 18:00 Beijing: 1.5 h left today, the rest on Monday morning.
    assert respond["deadline"] == "2025-06-09T04:00:00+00:00"
    clock.advance(days=1)
    paused = client.get(f"/api/v1/tickets/{t['id']}", headers=VIEWER).json()["clocks"][0]
    assert paused["status"] == "paused" and paused["elapsed_s"] == 1.5 * 3600
    tid = t["id"]
    t = post(client, f"/api/v1/tickets/{tid}/assign", {"assignee": "carol"})
    assert t["state"] == "assigned" and t["assignee"] == "carol"
    t = post(client, f"/api/v1/tickets/{tid}/ack", {"note": "called back"})
    assert t["state"] == "responded" and t["clocks"][0]["status"] == "met"
    post(client, f"/api/v1/tickets/{tid}/transition", {"state": "remote"})
    post(client, f"/api/v1/tickets/{tid}/classify", {"fault_type": "software", "cause": "config_error",
                                                     "maintenance_type": "corrective", "billing": "free"})
    post(client, f"/api/v1/tickets/{tid}/note", {"text": "spooler restarted, watching"})
    err = post(client, f"/api/v1/tickets/{tid}/transition", {"state": "registered"}, 409)
    assert "allowed:" in err["detail"]
    post(client, f"/api/v1/tickets/{tid}/resolve", {"note": "fixed", "closure": {
        "cause": "驱动配置错误", "solution": "重装驱动", "prevention": "变更前备份配置"}})
    post(client, f"/api/v1/tickets/{tid}/verify", {})
    post(client, f"/api/v1/tickets/{tid}/close", {})
    t = post(client, f"/api/v1/tickets/{tid}/satisfaction", {"attitude": 95, "quality": 90, "resolution": 85,
                                                            "scale": "percent", "rated_by": "张三"})
    assert t["state"] == "surveyed" and t["satisfaction"]["overall_percent"] == 90.0
    assert t["closure"]["cause"] == "驱动配置错误"
    actions = [e["action"] for e in t["timeline"]]
    assert actions.count("state") == 7 and {"created", "assigned", "classified", "note", "closure",
                                            "satisfaction"} <= set(actions)
    assert {e["actor"] for e in t["timeline"] if e["action"] != "created"} == {"bob"}
    assert client.get("/api/v1/tickets", params={"state": "surveyed"}, headers=VIEWER).json()[0]["id"] == tid
    assert client.get("/api/v1/tickets", params={"open": True}, headers=VIEWER).json() == []


def test_errors_are_actionable(client: TestClient) -> None:
    assert "patrol tickets" in client.get("/api/v1/tickets/99", headers=VIEWER).json()["detail"]
    assert "unknown severity" in post(client, "/api/v1/tickets", {"customer_id": "acme", "title": "x",
                                                                  "severity": "L9"}, 400)["detail"]
    assert "unknown customer" in post(client, "/api/v1/tickets", {"customer_id": "nope", "title": "x"},
                                      400)["detail"]
    assert client.get("/api/v1/tickets", params={"state": "done"}, headers=VIEWER).status_code == 400
    tid = post(client, "/api/v1/tickets", {"customer_id": "acme", "title": "x"})["id"]
    assert post(client, f"/api/v1/tickets/{tid}/resolve", {})["state"] == "resolved"
    assert "closure record" in post(client, f"/api/v1/tickets/{tid}/close", {}, 409)["detail"]
    assert post(client, f"/api/v1/tickets/{tid}/reopen", {"reason": "still broken"})["state"] == "registered"
    assert "between 1 and 5" in post(client, f"/api/v1/tickets/{tid}/satisfaction",
                                     {"attitude": 7, "quality": 5, "resolution": 5}, 400)["detail"]


def test_predictive_ticket_shows_eta_band_and_series(client: TestClient, app: tuple[CollectorApp, FakeClock]) -> None:
    a, clock = app
    ts, values = filling_disk(clock() - 4 * 86400)
    fc = forecast(ts, values, 100.0, "up", now=ts[-1])
    run = CapacityForecast(host_id="web-01", hostname="web-01", customer_id="acme", series="disk.used_percent",
                           labels={"mount": "/data"}, window=InputWindow(float(ts[0]), float(ts[-1]), 600.0),
                           method="robust-trend", computed_at=datetime.fromtimestamp(fc.now, tz=UTC), result=fc,
                           run_id=1, points=tuple(zip(ts.tolist(), values.tolist(), strict=True)))
    report = process_forecasts(a, [run])
    t = client.get(f"/api/v1/tickets/{report.opened[0]}", headers=VIEWER).json()
    f = t["forecast"]
    assert t["source"] == "forecast" and t["eta"] == fc.eta
    assert (f["eta"], f["eta_low"], f["eta_high"]) == (fc.eta, fc.eta_low, fc.eta_high)
    assert len(f["points"]) == 240 and f["points"][-1] == [ts[-1], values[-1]]
    assert f["limit"] == 100.0 and f["slope_per_day"] == pytest.approx(5, rel=0.05)


def test_findings_and_maintenance_windows(client: TestClient, app: tuple[CollectorApp, FakeClock]) -> None:
    a, clock = app
    now = datetime.fromtimestamp(clock(), tz=UTC)
    w = post(client, "/api/v1/maintenance", {"host": "web-01", "start": now.isoformat(),
                                             "end": (now + timedelta(hours=1)).isoformat(), "reason": "reboot"})
    assert w["id"] and "reboot" in w["description"]
    listed = client.get("/api/v1/maintenance", headers=VIEWER).json()
    assert [x["active_now"] for x in listed] == [True]
    assert process_findings(a, batch(now, finding("critical", 95))).suppressed == 1
    assert client.delete(f"/api/v1/maintenance/{w['id']}", headers=ENGINEER).json() == {"deleted": w["id"]}
    assert process_findings(a, batch(now, finding("critical", 95))).opened == [1]
    assert "start and end need a time zone" in post(
        client, "/api/v1/maintenance", {"host": "x", "start": "2025-06-01T02:00:00",
                                        "end": "2025-06-01T04:00:00"}, 400)["detail"]
    assert "customer, host or check" in post(client, "/api/v1/maintenance", {"hours": "02:00-04:00"}, 400)["detail"]
    profiles = {p["name"]: p for p in client.get("/api/v1/sla/profiles", headers=VIEWER).json()}
    assert profiles["software-plan-5x8"]["customers"] == ["acme"]
    assert profiles["software-plan"]["customers"] == ["globex"]
    assert profiles["hotline"]["plan_after_s"] == 7200
    assert client.get("/api/v1/notifications", headers=VIEWER).json() == []  # no channels configured


def test_evaluate_endpoint_runs_the_periodic_pass(client: TestClient, app: tuple[CollectorApp, FakeClock]) -> None:
    _, clock = app
    tid = post(client, "/api/v1/tickets", {"customer_id": "globex", "title": "x", "severity": "L1"})["id"]
    clock.advance(hours=3)  # software plan 7×24: L1 respond 2 h
    out = post(client, "/api/v1/tickets/evaluate", {})
    assert out["sla"]["breaches"] == [[tid, "respond"]]
    assert out["sla"]["escalations"] == [[tid, 1, "duty_manager"]]
    t = client.get(f"/api/v1/tickets/{tid}", headers=VIEWER).json()
    assert t["escalation_level"] == 1 and t["escalation"][1] == {"level": 1, "role": "duty_manager", "name": None,
                                                                  "reached": True}
