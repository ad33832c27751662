"""Tickets through real processes: a collector on loopback, the ``patrol`` CLI, a webhook receiver and an agent."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.localrun import child_env
from tests.integration.harness import TOKEN, AgentProcess, CollectorProcess, wait_for
from tests.notify.receiver import Receiver, running_receiver

pytestmark = [pytest.mark.integration]
VIEWER_TOKEN = "viewer-token"


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory, hook: Receiver) -> Iterator[CollectorProcess]:
    c = CollectorProcess(
        tmp_path_factory.mktemp("collector"), offline_after="4s",
        api={"tokens": [{"name": "admin", "token": TOKEN, "role": "admin"},
                        {"name": "viewer", "token": VIEWER_TOKEN, "role": "viewer"}]},
        tickets={"evaluate_every": "0.5s", "noise": {"clear_for": "1s"}, "link": "https://patrol.example/t/{id}"},
        notifications={"channels": {"hook": {"type": "webhook", "url": f"{hook.url}/hook"}},
                       "routes": [{"channels": ["hook"]}], "burst_window": "100ms", "poll_interval": "100ms"},
    ).start()
    yield c
    c.kill(signal.SIGTERM)


def patrol(c: CollectorProcess, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url", c.api,
                           "--token", token, *args], capture_output=True, text=True, env=child_env(), timeout=60)


def ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout


def test_cli_ticket_lifecycle_and_webhook(collector: CollectorProcess, hook: Receiver) -> None:
    created = json.loads(ok(patrol(collector, "ticket", "new", "--customer", "acme", "--title", "财务系统无法登录",
                                   "--severity", "L2", "--contact", "张三", "--phone", "13800000000",
                                   "--reporter", "customer:张三", "--steps", "open login page", "-f", "json")))[0]
    tid = created["id"]
    assert created["registration"]["customer_unit"] == "ACME Corp" and created["registration"]["channel"] == "hotline"
    listing = ok(patrol(collector, "tickets"))
    assert "财务系统无法登录" in listing and "registered" in listing
    shown = ok(patrol(collector, "ticket", str(tid)))
    for text in ("SLA clocks", "respond", "timeline", "created", "software-plan", "张三"):
        assert text in shown
    denied = patrol(collector, "ticket", "ack", str(tid), token=VIEWER_TOKEN)
    assert denied.returncode == 1 and "needs engineer" in denied.stderr
    ok(patrol(collector, "ticket", "ack", str(tid), "--note", "called back"))
    ok(patrol(collector, "ticket", "note", str(tid), "password policy locked the account"))
    bad = patrol(collector, "ticket", "move", str(tid), "registered")
    assert bad.returncode == 1 and "allowed:" in bad.stderr
    ok(patrol(collector, "ticket", "resolve", str(tid), "--cause", "账户被锁定", "--solution", "解锁并重置密码",
              "--prevention", "调整锁定策略"))
    ok(patrol(collector, "ticket", "close", str(tid)))
    final = json.loads(ok(patrol(collector, "ticket", "rate", str(tid), "--attitude", "5", "--quality", "5",
                                 "--resolution", "4", "--by", "张三", "-f", "json")))[0]
    assert final["state"] == "surveyed" and final["satisfaction"]["overall_percent"] == pytest.approx(93.3)
    actors = {(e["actor"], e["action"]) for e in final["timeline"]}
    assert ("admin", "note") in actors and ("admin", "closure") in actors
    # The new ticket reached the webhook without anyone waiting for it.
    wait_for(lambda: hook.ok("/hook"), 15, "the webhook notification")
    first = next(n for d in hook.ok("/hook") for n in d.body["notifications"] if n["ticket_id"] == tid)
    assert first["event"] == "opened" and first["ticket_id"] == tid
    assert first["link"] == f"https://patrol.example/t/{tid}"
    notes = json.loads(ok(patrol(collector, "notifications", "-f", "json")))
    assert any(n["status"] == "sent" and n["ticket_id"] == tid for n in notes)
    sla = ok(patrol(collector, "sla"))
    assert "hotline" in sla and "software-plan" in sla


def test_an_agent_going_offline_opens_a_ticket_and_coming_back_resolves_it(
        tmp_path: Path, collector: CollectorProcess) -> None:
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}", agent_id="kiosk-07").start()
    wait_for(lambda: any(h["id"] == "kiosk-07" and h["status"] == "online" for h in collector.get("/api/v1/hosts")),
             30, "the agent to connect")
    agent.stop(signal.SIGKILL)

    def offline_ticket() -> dict[str, object] | None:
        rows = collector.get("/api/v1/tickets", host="kiosk-07", open="true")
        return rows[0] if rows else None

    t = wait_for(offline_ticket, 30, "an offline ticket")
    assert t["source"] == "offline" and t["check_id"] == "agent.offline" and t["severity"] == "L2"
    agent.start()
    wait_for(lambda: collector.get(f"/api/v1/tickets/{t['id']}")["state"] == "resolved", 30,
             "the ticket to resolve once the agent is back")
    actions = [e["action"] for e in collector.get(f"/api/v1/tickets/{t['id']}")["timeline"]]
    assert actions.index("condition_clear") < actions.index("state")
    agent.stop()
