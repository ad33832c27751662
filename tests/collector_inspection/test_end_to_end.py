"""A real collector process, a simulated fleet over gRPC, inspections through the API and the CLI."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from collector.cli import app as patrol
from collector.cli.inspections import run_demo_inspection
from collector.simulator import simulate
from tests.integration.harness import TOKEN, CollectorProcess, wait_for

pytestmark = [pytest.mark.integration]

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    workdir = tmp_path_factory.mktemp("e2e")
    overrides = workdir / "overrides"
    overrides.mkdir()
    # The customer expects a process and a port the simulated hosts do not probe: unknown findings.
    (overrides / "acme.yaml").write_text("customer: acme\nexpect:\n  ports: [5432]\n"
                                         "checks:\n  - {check: resources.disk_space, warn: 80, crit: 90}\n")
    proc = CollectorProcess(workdir / "collector", inspections={"overrides_dir": str(overrides)},
                            api={"tokens": [{"name": "admin", "token": TOKEN, "role": "admin"},
                                            {"name": "viewer", "token": "viewer-token", "role": "viewer"}]})
    proc.start()
    try:
        summary = asyncio.run(simulate(f"127.0.0.1:{proc.grpc_port}", agents=3, customers=1,
                                       history=timedelta(days=2), step=timedelta(minutes=5),
                                       coarse_step=timedelta(minutes=30), fine_window=timedelta(days=1)))
        assert summary.agents == 3
        proc.flush()
        wait_for(lambda: len(proc.get("/api/v1/hosts", customer="acme")) == 3, 30, "three acme hosts")
        yield proc
    finally:
        proc.kill()


def api(proc: CollectorProcess, method: str, path: str, token: str = TOKEN, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{proc.api}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                         **kwargs)


def wait_done(proc: CollectorProcess, run_id: int) -> dict[str, Any]:
    return wait_for(lambda: (lambda r: r if r["status"] not in ("queued", "running") else None)(
        proc.get(f"/api/v1/inspections/{run_id}", findings="none")), 60, f"inspection {run_id}", interval=0.2)


def test_an_inspection_through_the_api_stores_findings_and_checklist(collector: CollectorProcess) -> None:
    r = api(collector, "POST", "/api/v1/inspections", json={"customer": "acme", "profile": "monthly"})
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["status"] in ("queued", "running", "completed") and started["trigger"] == "api"
    assert started["progress"]["total"] == 3
    done = wait_done(collector, started["id"])
    assert done["status"] == "completed", done
    assert done["progress"] == {"done": 3, "total": 3}

    run = collector.get(f"/api/v1/inspections/{started['id']}")
    assert run["language"] == "zh" and run["customer_name"] == "ACME Corp"
    assert len(run["hosts"]) == 3 and run["customer_score"] is not None
    assert {h["hostname"] for h in run["hosts"]} == {"acme-db-01", "acme-app-01", "acme-web-01"}
    findings = run["findings"]
    assert findings and all(f["status"] != "ok" for f in findings)
    for f in findings:
        assert f["evidence"]["source"] in ("rollups", "latest", "events", "host")
        assert f["recommendation"]["zh"] and f["recommendation"]["en"]
    # The customer's overrides apply: port 5432 is expected but not probed → unknown, with the fix.
    ports = [f for f in findings if f["check_id"] == "app.ports"]
    assert len(ports) == 3 and all(f["status"] == "unknown" and "agent.yaml" in f["unknown_reason"] for f in ports)
    all_findings = collector.get(f"/api/v1/inspections/{started['id']}", findings="all")["findings"]
    disk = [f for f in all_findings if f["check_id"] == "resources.disk_space"]
    assert disk and all(f["threshold"]["warn"] == 80 and f["threshold"]["crit"] == 90 for f in disk)
    assert len(all_findings) > len(findings)
    db = next(h for h in run["hosts"] if h["hostname"] == "acme-db-01")
    only_db = collector.get(f"/api/v1/inspections/{started['id']}", findings="all", host="acme-db-01")["findings"]
    assert only_db and {f["host_id"] for f in only_db} == {db["host_id"]}
    assert sum(db["counts"].values()) == len(only_db)

    rows = api(collector, "PUT", f"/api/v1/inspections/{started['id']}/checklist",
               json={"rows": [{"item_id": "cabling", "result": "ok", "remark": "整齐"},
                              {"item_id": "manual.power_ups", "result": "issue", "remark": "UPS battery 60 %"}]})
    assert rows.status_code == 200, rows.text
    back = {r["item_id"]: r for r in collector.get(f"/api/v1/inspections/{started['id']}/checklist")}
    assert back["manual.cabling"]["result"] == "ok" and back["manual.cabling"]["remark"] == "整齐"
    assert back["manual.cabling"]["checked_by"] == "admin" and back["manual.cabling"]["checked_at"]
    assert back["manual.power_ups"]["result"] == "issue"
    assert back["manual.screen"]["result"] is None

    listed = collector.get("/api/v1/inspections", customer="acme")
    assert started["id"] in [r["id"] for r in listed]
    schedules = collector.get("/api/v1/inspections/schedules")
    assert {(s["customer"], s["profile"]) for s in schedules} >= {("acme", "monthly"), ("acme", "daily")}


def test_api_errors_and_roles(collector: CollectorProcess) -> None:
    bad = api(collector, "POST", "/api/v1/inspections", json={"customer": "acme", "hosts": ["nope"]})
    assert bad.status_code == 400 and "nope" in bad.json()["detail"]
    bad = api(collector, "POST", "/api/v1/inspections", json={"customer": "acme", "profile": "weekly"})
    assert bad.status_code == 400 and "unknown profile" in bad.json()["detail"]
    viewer = api(collector, "POST", "/api/v1/inspections", token="viewer-token", json={"customer": "acme"})
    assert viewer.status_code == 403
    assert api(collector, "GET", "/api/v1/inspections", token="viewer-token").status_code == 200
    assert api(collector, "GET", "/api/v1/inspections/999999").status_code == 404
    run_id = run_demo_inspection(collector.api, TOKEN, "acme", "daily", show=False)
    put = api(collector, "PUT", f"/api/v1/inspections/{run_id}/checklist", token="viewer-token",
              json={"rows": [{"item_id": "cabling", "result": "ok"}]})
    assert put.status_code == 403
    wrong = api(collector, "PUT", f"/api/v1/inspections/{run_id}/checklist",
                json={"rows": [{"item_id": "cables", "result": "ok"}]})
    assert wrong.status_code == 400 and "cabling" in wrong.json()["detail"]


def test_the_cli_runs_lists_shows_and_fills_in(collector: CollectorProcess) -> None:
    runner = CliRunner()
    base = ["--url", collector.api, "--token", TOKEN]
    out = runner.invoke(patrol, [*base, "inspect", "acme", "--profile", "monthly", "--hosts",
                                 "acme-db-01,acme-web-01"])
    assert out.exit_code == 0, out.output
    assert "客户健康分" in out.output and "acme-db-01" in out.output and "acme-app-01" not in out.output
    run_id = max(r["id"] for r in collector.get("/api/v1/inspections", customer="acme"))
    # The summary of a Chinese customer is wholly Chinese: labels, statuses, counts and units.
    [score_line] = [line for line in out.output.splitlines() if "客户健康分" in line]
    assert re.fullmatch(r"客户健康分：\d+ \((良好|关注|风险)\) — 严重 \d+ 项，警告 \d+ 项，未知 \d+ 项；耗时 [\d.]+ 秒",
                        score_line.strip()), score_line
    assert f"第 {run_id} 次巡检" in out.output
    assert not re.search(r"\b(critical|warning|unknown|findings|took|run)\b", out.output), out.output
    english = runner.invoke(patrol, [*base, "inspect", "acme", "--profile", "monthly", "--hosts", "acme-db-01",
                                     "--lang", "en"])
    assert english.exit_code == 0, english.output
    assert re.search(r"customer score: \d+ \(\w[\w ]*\) — \d+ critical, \d+ warning, \d+ unknown findings; "
                     r"took [\d.]+ s", english.output), english.output
    assert not re.search(r"[\u4e00-\u9fff]", english.output.split("customer score")[1])

    listed = runner.invoke(patrol, [*base, "inspections", "acme", "--format", "csv"])
    assert listed.exit_code == 0 and f"\n{run_id},acme,monthly,manual,completed" in listed.output

    shown = runner.invoke(patrol, [*base, "inspection", str(run_id), "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert "recommendation:" in shown.output and "evidence:" in shown.output
    assert "Listening ports" in shown.output and "agent.yaml" in shown.output

    filled = runner.invoke(patrol, [*base, "checklist", str(run_id), "--set", "cabling=ok", "--set",
                                    "fan_noise=issue", "--note", "fan 2 loud", "--lang", "en"])
    assert filled.exit_code == 0, filled.output
    assert "Fans and noise" in filled.output and "fan 2 loud" in filled.output
    rows = {r["item_id"]: r for r in collector.get(f"/api/v1/inspections/{run_id}/checklist")}
    assert rows["manual.fan_noise"]["result"] == "issue" and rows["manual.fan_noise"]["remark"] == "fan 2 loud"
    bad = runner.invoke(patrol, [*base, "checklist", str(run_id), "--set", "cabling=great"])
    assert bad.exit_code != 0
