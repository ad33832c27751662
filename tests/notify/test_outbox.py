"""The outbox: routing per customer and severity, burst grouping, leases, and a worker that never blocks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from collector.notify.config import NotificationsConfig
from collector.notify.model import Notification
from collector.notify.router import Router
from collector.notify.tables import notify_outbox
from tests.integration.harness import wait_for
from tests.notify.conftest import SmtpServer
from tests.notify.helpers import OutboxHarness
from tests.notify.receiver import Receiver
from tests.tickets.helpers import FakeClock

NOW = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


def n(customer: str, severity: str, event: str = "opened", **kw: object) -> Notification:
    return Notification(event=event, title="t", text="x", created_at=NOW, customer_id=customer, severity=severity,
                        **kw)  # type: ignore[arg-type]


def test_routes_by_customer_severity_and_event() -> None:
    hook = {"type": "webhook", "url": "http://127.0.0.1:9/x"}
    router = Router(NotificationsConfig.model_validate({
        "channels": {"acme-ding": hook, "acme-mail": hook, "ops": hook, "audit": hook, "pm": hook},
        "routes": [
            {"events": ["sla_breach", "escalated"], "channels": ["audit"], "continue": True},
            {"customers": ["acme"], "severities": ["L1", "L2"], "channels": ["acme-ding", "acme-mail"]},
            {"customers": ["acme*"], "channels": ["acme-mail"]},
            {"channels": ["ops"]},
        ]}))

    def names(x: Notification) -> list[str]:
        return [d.channel for d in router.route(x)]

    assert names(n("acme", "L1")) == ["acme-ding", "acme-mail"]
    assert names(n("acme", "L3")) == ["acme-mail"]
    assert names(n("acme-east", "L1")) == ["acme-mail"]
    assert names(n("globex", "L1")) == ["ops"]
    assert names(n("globex", "L4", "sla_breach")) == ["audit", "ops"]
    assert names(n("globex", "L4", channels=("pm", "nope"))) == ["ops", "pm"]  # named by the notification
    assert names(n("acme", "L3", emails=("a@x",))) == ["acme-mail"]  # no smtp: no direct e-mail


def test_config_refuses_dangling_references() -> None:
    with pytest.raises(ValidationError, match="unknown channel 'ops'"):
        NotificationsConfig.model_validate({"routes": [{"channels": ["ops"]}]})
    with pytest.raises(ValidationError, match=r"configure notifications\.smtp"):
        NotificationsConfig.model_validate({"channels": {"m": {"type": "email", "to": ["a@x"]}}})
    with pytest.raises(ValidationError, match="exactly one of url or url_env"):
        NotificationsConfig.model_validate({"channels": {"d": {"type": "dingtalk"}}})
    with pytest.raises(ValidationError, match="DingTalk/Feishu"):
        NotificationsConfig.model_validate({"channels": {"w": {"type": "wecom", "url": "http://x", "secret": "s"}}})
    cfg = NotificationsConfig.model_validate({"smtp": {"host": "h", "from": "a@x", "username": "u",
                                                       "password": "hunter2"}})
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.model_dump())


@pytest.fixture
def ob(tmp_path: Path, receiver: Receiver) -> Iterator[OutboxHarness]:
    harness = OutboxHarness(tmp_path, {
        "channels": {"acme": {"type": "webhook", "url": f"{receiver.url}/acme"},
                     "ops": {"type": "webhook", "url": f"{receiver.url}/ops"}},
        "routes": [{"customers": ["acme"], "channels": ["acme"]}, {"channels": ["ops"]}],
        "burst_window": "30s", "max_group": 3})
    yield harness
    harness.close()


def test_a_burst_for_one_route_becomes_one_message(ob: OutboxHarness, receiver: Receiver) -> None:
    for i in range(3):
        ob.enqueue(f"#{i + 1} problem {i + 1}", severity=["L3", "L1", "L4"][i], ticket_id=i + 1)
        ob.clock.advance(5)
    ob.enqueue("#9 other customer", customer="globex", ticket_id=9)
    ob.clock.advance(14)
    assert ob.worker.run_once().sent == 0  # 29 s after the first: the burst may still grow
    ob.clock.advance(1)
    report = ob.worker.run_once()
    assert report.sent == 1 and report.notifications == 3  # globex's burst started 15 s later
    (msg,) = receiver.ok("/acme")
    assert msg.body["count"] == 3 and msg.body["severity"] == "L1"  # the worst of the burst
    assert [x["title"] for x in msg.body["notifications"]] == ["#1 problem 1", "#2 problem 2", "#3 problem 3"]
    assert msg.body["title"].startswith("3 notifications (worst L1 一级)")
    assert all(f"problem {i}" in msg.body["markdown"] for i in (1, 2, 3))
    ob.clock.advance(15)
    assert ob.worker.run_once().sent == 1
    assert receiver.ok("/ops")[0].body["count"] == 1


def test_large_bursts_are_split(ob: OutboxHarness, receiver: Receiver) -> None:
    for i in range(7):
        ob.enqueue(f"#{i}", ticket_id=i)
    ob.clock.advance(30)
    assert ob.worker.run_once().sent == 3  # max_group 3: 3 + 3 + 1
    assert sorted(m.body["count"] for m in receiver.ok("/acme")) == [1, 3, 3]


def test_an_interrupted_delivery_is_resent_after_its_lease(ob: OutboxHarness, receiver: Receiver) -> None:
    ob.enqueue()
    with ob.engine.begin() as conn:  # a worker claimed it and died
        conn.execute(update(notify_outbox).values(status="sending", claim="dead", delivery_id="d-dead",
                                                  lease_until_ms=int(ob.clock() * 1000) + 120_000))
    ob.clock.advance(60)
    assert ob.worker.run_once().sent == 0
    ob.clock.advance(61)
    assert ob.worker.run_once().sent == 1
    assert receiver.ok("/acme")[0].headers["x-patrol-delivery"] == "d-dead"


def test_the_worker_thread_sends_while_enqueueing_never_waits(tmp_path: Path, receiver: Receiver) -> None:
    real = OutboxHarness(tmp_path, {"channels": {"hook": {"type": "webhook", "url": f"{receiver.url}/hook"}},
                                    "routes": [{"channels": ["hook"]}], "burst_window": 0, "poll_interval": "50ms"},
                         clock=FakeClock(NOW))
    real.worker.clock = time.time
    real.outbox.clock = time.time
    real.clock.t = time.time()
    receiver.gate.clear()  # the endpoint hangs
    real.worker.start()
    try:
        real.enqueue("first")
        wait_for(lambda: receiver.all("/hook") or any(r["status"] == "sending" for r in real.rows()), 10,
                 "the worker to start sending")
        # While the worker is stuck in the HTTP call, new notifications are queued durably.
        for i in range(5):
            real.enqueue(f"queued {i}")
        assert sum(r["status"] == "pending" for r in real.rows()) == 5
        receiver.gate.set()
        wait_for(lambda: all(r["status"] == "sent" for r in real.rows()), 10, "all notifications sent")
    finally:
        receiver.gate.set()
        real.close()
    titles = [x["title"] for d in receiver.ok("/hook") for x in d.body["notifications"]]
    assert sorted(titles) == sorted(["first", *(f"queued {i}" for i in range(5))])


def test_email_channel_through_the_outbox(tmp_path: Path, smtp_plain: SmtpServer) -> None:
    ob = OutboxHarness(tmp_path, {
        "smtp": {"host": "127.0.0.1", "port": smtp_plain.port, "security": "none", "from": "patrol@p.example"},
        "channels": {"mail": {"type": "email", "to": ["ops@p.example"], "subject_prefix": "[巡检]"}},
        "routes": [{"channels": ["mail"]}], "burst_window": "5s"})
    ob.enqueue("#1 a", emails=("pm@p.example",))
    ob.enqueue("#2 b")
    ob.clock.advance(5)
    assert ob.worker.run_once().sent == 2  # the route's burst, and the directly addressed person
    got = {tuple(m.rcpt_tos): m for m in smtp_plain.sink.messages}
    assert set(got) == {("ops@p.example",), ("pm@p.example",)}
    assert b"2 notifications" in got[("ops@p.example",)].content
    ob.close()
