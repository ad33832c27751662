"""A real collector process and a simulated fleet: inspection findings become tickets per the policy.

Disk-space thresholds come from the customer's overrides file, which every run reads afresh, so a
test makes a finding critical or ok by rewriting it before a run. Each test inspects its own host
(or customer), so the tests share one collector without sharing a fingerprint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from collector.cli import app as patrol
from collector.simulator import simulate
from tests.integration.harness import TOKEN, CollectorProcess, wait_for

pytestmark = [pytest.mark.integration]

POLICY = """
rules:
  - name: acme has a contract without tickets for findings
    customers: [acme]
    action: ignore
  - name: full disks
    checks: [resources.disk_space]
    states: [warning, critical]
    severity: 一级
    sla_profile: hotline
  - name: checklist rows marked abnormal
    states: [issue]
    severity: L3
"""
CRITICAL = "{check: resources.disk_space, warn: 1, crit: 2}"
OK = "{check: resources.disk_space, warn: 99.99, crit: 100}"


class Fleet:
    def __init__(self, proc: CollectorProcess, overrides: Path) -> None:
        self.proc = proc
        self.overrides = overrides

    def disks(self, customer: str, levels: str) -> None:
        (self.overrides / f"{customer}.yaml").write_text(f"customer: {customer}\nchecks:\n  - {levels}\n")

    def host(self, customer: str, index: int) -> dict[str, Any]:
        return sorted(self.proc.get("/api/v1/hosts", customer=customer), key=lambda h: h["hostname"])[index]

    def inspect(self, customer: str, hosts: list[str] | None = None) -> dict[str, Any]:
        r = api(self.proc, "POST", "/api/v1/inspections", json={"customer": customer, "profile": "daily",
                                                                  "hosts": hosts})
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        done = wait_for(lambda: (lambda x: x if x["status"] not in ("queued", "running") else None)(
            self.proc.get(f"/api/v1/inspections/{run_id}", findings="all")), 60, f"inspection {run_id}", 0.2)
        assert done["status"] == "completed", done
        return dict(done)

    def tickets(self, **params: Any) -> list[dict[str, Any]]:
        rows = self.proc.get("/api/v1/tickets", open=False, limit=1000, **params)
        return [t for t in rows if t["source"] == "inspection"]

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        return dict(self.proc.get(f"/api/v1/tickets/{ticket_id}"))


def api(proc: CollectorProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{proc.api}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30,
                         **kwargs)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("findings")
    overrides = workdir / "overrides"
    overrides.mkdir()
    (workdir / "collector").mkdir()
    (workdir / "collector" / "ticket-policy.yaml").write_text(POLICY)
    proc = CollectorProcess(
        workdir / "collector", inspections={"overrides_dir": str(overrides)},
        customers=[{"id": "huaxin", "name": "华信物流有限公司", "timezone": "Asia/Shanghai", "language": "zh",
                    "address": "苏州工业园区", "contacts": [{"name": "王工", "phone": "+86 512 5550"}]},
                   {"id": "acme", "name": "Acme Manufacturing GmbH", "timezone": "Europe/Berlin", "language": "en"}],
        # A relative policy file is read next to collector.yaml; the clear-for hysteresis is short so
        # that recovery resolves within the test, and the SLA pass that resolves it runs every second.
        tickets={"policy_file": "ticket-policy.yaml", "evaluate_every": "1s", "noise": {"clear_for": "2s"},
                 "offline": {"enabled": False}})
    proc.start()
    try:
        summary = asyncio.run(simulate(f"127.0.0.1:{proc.grpc_port}", agents=4, customers=2,
                                       history=timedelta(days=2), step=timedelta(minutes=5),
                                       coarse_step=timedelta(minutes=30), fine_window=timedelta(days=1)))
        assert summary.agents == 4
        proc.flush()
        wait_for(lambda: len(proc.get("/api/v1/hosts")) == 4, 30, "four hosts")
        yield Fleet(proc, overrides)
    finally:
        proc.kill()


def test_a_critical_finding_opens_one_ticket_that_repeats_and_resolves_after_recovery(fleet: Fleet) -> None:
    host = fleet.host("huaxin", 0)
    fleet.disks("huaxin", CRITICAL)
    run = fleet.inspect("huaxin", [host["id"]])
    disks = [f for f in run["findings"] if f["check_id"] == "resources.disk_space"]
    assert disks and all(f["status"] == "critical" for f in disks)
    # The run reads as completed once its tickets are there.
    opened = fleet.tickets(host=host["id"])
    assert len(opened) == len(disks)
    t = fleet.ticket(opened[0]["id"])
    finding = next(f for f in disks if f["subject"] == t["subject"])
    reg = t["registration"]
    assert (t["source"], t["customer_id"], t["host_id"], t["check_id"]) == (
        "inspection", "huaxin", host["id"], "resources.disk_space")
    assert (t["severity"], t["sla_profile"], t["state"], t["occurrences"]) == ("L1", "hotline", "registered", 1)
    assert t["title"] == f"{host['hostname']} 磁盘空间 {t['subject']}：严重"  # huaxin reads Chinese
    assert (reg["customer_unit"], reg["address"], reg["contact"], reg["channel"]) == (
        "华信物流有限公司", "苏州工业园区", "王工", "system")
    assert host["hostname"] in reg["environment"] and reg["occurred_at"]
    assert f"measured {finding['observed']:.2f}".rstrip("0").rstrip(".") in reg["description"]
    assert "critical ≥ 2%" in reg["description"] and f"inspection run {run['id']}" in reg["description"]
    assert t["details"]["policy"].startswith("rule 1 (full disks)")

    # The same finding at the next run updates the ticket; no second one opens.
    fleet.inspect("huaxin", [host["id"]])
    assert fleet.ticket(t["id"])["occurrences"] == 2
    assert len(fleet.tickets(host=host["id"])) == len(disks)

    # Recovered: the condition clears at the next run and the ticket resolves after the hysteresis.
    fleet.disks("huaxin", OK)
    fleet.inspect("huaxin", [host["id"]])
    resolved = wait_for(lambda: (lambda x: x if x["state"] == "resolved" else None)(fleet.ticket(t["id"])), 30,
                        "auto-resolution after clear_for")
    assert resolved["resolved_by"] == "system" and resolved["occurrences"] == 2
    actions = [e["action"] for e in resolved["timeline"]]
    assert "condition_clear" in actions and actions.index("condition_clear") < len(actions) - 1


def test_a_fix_on_the_spot_closes_the_ticket_and_leaves_the_memo(fleet: Fleet) -> None:
    host = fleet.host("huaxin", 1)
    fleet.disks("huaxin", CRITICAL)
    run = fleet.inspect("huaxin", [host["id"]])
    disks = [f for f in run["findings"] if f["check_id"] == "resources.disk_space"]
    assert len([t for t in fleet.tickets(host=host["id"]) if t["state"] == "registered"]) == len(disks)
    memo = fleet.proc.get(f"/api/v1/inspections/{run['id']}/memo")
    mine = [m for m in memo if m["host_id"] == host["id"]]
    assert len(mine) == len(disks) and all(m["ticket_id"] and m["ticket_state"] == "registered" for m in mine)
    fixed, *rest = mine

    runner = CliRunner()
    base = ["--url", fleet.proc.api, "--token", TOKEN]
    ref = f"{host['hostname']}:resources.disk_space:{fixed['subject']}"
    out = runner.invoke(patrol, [*base, "findings", "fix", str(run["id"]), ref, "--symptom", "磁盘使用率 97%",
                                 "--analysis", "old journal files", "--steps", "journalctl --vacuum-size=500M"])
    assert out.exit_code == 0, out.output
    assert f"ticket #{fixed['ticket_id']} resolved" in out.output
    t = fleet.ticket(fixed["ticket_id"])
    assert t["state"] == "resolved" and t["resolved_by"] == "admin"
    assert (t["closure"]["cause"], t["closure"]["solution"]) == ("old journal files", "journalctl --vacuum-size=500M")
    records = fleet.proc.get(f"/api/v1/inspections/{run['id']}/fixes")
    assert [(r["subject"], r["symptom"], r["ticket_id"]) for r in records] == [
        (fixed["subject"], "磁盘使用率 97%", fixed["ticket_id"])]
    # What was fixed leaves the memo; what was not stays there with its follow-up ticket.
    after = fleet.proc.get(f"/api/v1/inspections/{run['id']}/memo")
    assert [m["ticket_id"] for m in after] == [m["ticket_id"] for m in rest]
    shown = runner.invoke(patrol, [*base, "findings", "memo", str(run["id"])])
    assert shown.exit_code == 0 and "Disk space" in shown.output

    again = api(fleet.proc, "POST", f"/api/v1/inspections/{run['id']}/fixes",
                json={"finding": ref, "symptom": "s", "analysis": "a", "steps": "x"})
    assert again.status_code == 409 and "already recorded" in again.json()["detail"]
    unknown = api(fleet.proc, "POST", f"/api/v1/inspections/{run['id']}/fixes",
                  json={"finding": "nohost:resources.disk_space:/", "symptom": "s", "analysis": "a", "steps": "x"})
    assert unknown.status_code == 404 and "HOST:CHECK[:SUBJECT]" in unknown.json()["detail"]
    blank = api(fleet.proc, "POST", f"/api/v1/inspections/{run['id']}/fixes",
                json={"finding": ref, "symptom": " ", "analysis": "a", "steps": "x"})
    assert blank.status_code == 400 and "symptom" in blank.json()["detail"]


def test_an_ignore_rule_opens_nothing_and_an_abnormal_checklist_row_opens_a_ticket(fleet: Fleet) -> None:
    fleet.disks("acme", CRITICAL)
    run = fleet.inspect("acme")
    assert any(f["status"] == "critical" and f["check_id"] == "resources.disk_space" for f in run["findings"])
    memo = fleet.proc.get(f"/api/v1/inspections/{run['id']}/memo")
    assert memo == []

    r = api(fleet.proc, "PUT", f"/api/v1/inspections/{run['id']}/checklist",
            json={"rows": [{"item_id": "fan_noise", "result": "issue", "remark": "fan 2 is loud"},
                           {"item_id": "cabling", "result": "ok"}]})
    assert r.status_code == 200, r.text
    tickets = fleet.tickets(customer="acme")
    assert len(tickets) == 1
    t = fleet.ticket(tickets[0]["id"])
    assert (t["check_id"], t["subject"], t["host_id"], t["severity"]) == ("manual.fan_noise", "acme", None, "L3")
    assert "Acme Manufacturing GmbH" in t["title"] and "fan 2 is loud" in t["registration"]["description"]
    memo = fleet.proc.get(f"/api/v1/inspections/{run['id']}/memo")
    assert [(m["check_id"], m["status"], m["ticket_id"]) for m in memo] == [("manual.fan_noise", "issue", t["id"])]
    # Marked ok after the repair: the condition clears.
    r = api(fleet.proc, "PUT", f"/api/v1/inspections/{run['id']}/checklist",
            json={"rows": [{"item_id": "fan_noise", "result": "ok"}]})
    assert r.status_code == 200
    wait_for(lambda: fleet.ticket(t["id"])["state"] == "resolved", 30, "the checklist ticket resolved")
    # Findings of the ignored customer never opened a ticket.
    assert [x["check_id"] for x in fleet.tickets(customer="acme")] == ["manual.fan_noise"]
    assert isinstance(datetime.fromisoformat(t["created_at"]), datetime)
