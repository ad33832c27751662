"""Webhooks delivered to a real HTTP server on loopback: the four formats, signing, failures and retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.localrun import free_port
from collector.notify.config import WebhookChannel
from collector.notify.email import DeliveryError
from collector.notify.model import Notification, render
from collector.notify.webhooks import WECOM_MAX, WebhookSender
from tests.notify.helpers import OutboxHarness
from tests.notify.receiver import Receiver

DING_SECRET = "SEC-ding-secret"
FEISHU_SECRET = "feishu-secret"


@pytest.fixture
def ob(tmp_path: Path, receiver: Receiver) -> Iterator[OutboxHarness]:
    u = receiver.url
    harness = OutboxHarness(tmp_path, {
        "channels": {
            "generic": {"type": "webhook", "url": f"{u}/generic", "headers": {"X-Team": "ops"}},
            "ding": {"type": "dingtalk", "url": f"{u}/dingtalk?access_token=tok-123", "secret": DING_SECRET,
                     "mention": ["13800000000"]},
            "wecom": {"type": "wecom", "url": f"{u}/wecom?key=k-1"},
            "feishu": {"type": "feishu", "url": f"{u}/feishu/hook/abc", "secret": FEISHU_SECRET},
            "feishu-text": {"type": "feishu", "url": f"{u}/feishu-text", "format": "text"},
        },
        "routes": [{"channels": ["generic", "ding", "wecom", "feishu", "feishu-text"]}],
        "burst_window": "10s", "retry": {"initial": "10s", "max_delay": "5m", "attempts": 4},
    })
    yield harness
    harness.close()


def test_all_four_formats_arrive(ob: OutboxHarness, receiver: Receiver) -> None:
    ob.enqueue("#3 disk /data full in 2d", link="https://patrol.example/tickets/3", fields={"host": "web-01"})
    assert ob.worker.run_once().sent == 0  # the burst window is still open
    ob.clock.advance(10)
    assert ob.worker.run_once().sent == 5

    (generic,) = receiver.ok("/generic")
    assert generic.body["count"] == 1 and generic.body["severity"] == "L2"
    assert generic.body["notifications"][0]["title"] == "#3 disk /data full in 2d"
    assert generic.headers["x-patrol-delivery"] == generic.body["delivery_id"]
    assert generic.headers["x-team"] == "ops"

    (ding,) = receiver.ok("/dingtalk")
    assert ding.body["msgtype"] == "markdown"
    assert ding.body["markdown"]["title"] == "[L2 二级] #3 disk /data full in 2d"
    assert "**host**: web-01" in ding.body["markdown"]["text"] and "@13800000000" in ding.body["markdown"]["text"]
    assert ding.body["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    ts = ding.query["timestamp"]
    expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert ding.query["sign"] == expected and ding.query["access_token"] == "tok-123"
    assert int(ts) == int(ob.clock() * 1000)

    (wecom,) = receiver.ok("/wecom")
    assert wecom.body["msgtype"] == "markdown" and "#3 disk /data full in 2d" in wecom.body["markdown"]["content"]

    (feishu,) = receiver.ok("/feishu/hook/abc")
    assert feishu.body["msg_type"] == "interactive"
    card = feishu.body["card"]
    assert card["header"]["title"]["content"] == "[L2 二级] #3 disk /data full in 2d"
    assert card["header"]["template"] == "orange"
    assert card["elements"][0]["text"]["tag"] == "lark_md" and "###" not in card["elements"][0]["text"]["content"]
    fts = feishu.body["timestamp"]
    fsign = base64.b64encode(hmac.new(f"{fts}\n{FEISHU_SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    assert feishu.body["sign"] == fsign

    (text,) = receiver.ok("/feishu-text")
    assert text.body["msg_type"] == "text" and text.body["content"]["text"].startswith("[L2 二级] #3")
    assert {r["status"] for r in ob.rows()} == {"sent"}


def test_an_endpoint_that_fails_then_recovers_gets_it_exactly_once(ob: OutboxHarness, receiver: Receiver) -> None:
    receiver.answer("/generic", (500, {"error": "db down"}), (503, {}), (200, {}))
    ob.enqueue()
    ob.clock.advance(10)
    first = ob.worker.run_once()
    assert first.sent == 4 and first.failed == 1
    row = next(r for r in ob.rows() if r["channel"] == "generic")
    assert row["status"] == "pending" and row["attempts"] == 1 and "HTTP 500" in row["last_error"]
    assert row["next_attempt_ms"] == int(ob.clock() * 1000) + 10_000
    assert ob.worker.run_once().sent == 0  # not before the backoff
    ob.clock.advance(10)
    assert ob.worker.run_once().failed == 1  # 503: next wait doubles
    row = next(r for r in ob.rows() if r["channel"] == "generic")
    assert row["next_attempt_ms"] == int(ob.clock() * 1000) + 20_000
    ob.clock.advance(20)
    assert ob.worker.run_once().sent == 1
    ob.clock.advance(3600)
    assert ob.worker.run_once().sent == 0
    attempts = receiver.all("/generic")
    assert [d.status for d in attempts] == [500, 503, 200]
    assert len(receiver.ok("/generic")) == 1
    assert len({d.headers["x-patrol-delivery"] for d in attempts}) == 1  # one message, retried
    row = next(r for r in ob.rows() if r["channel"] == "generic")
    assert row["status"] == "sent" and row["attempts"] == 3


def test_refusals_are_permanent_and_give_up(ob: OutboxHarness, receiver: Receiver) -> None:
    receiver.answer("/dingtalk", (200, {"errcode": 310000, "errmsg": "sign not match"}))
    receiver.answer("/wecom", (404, {"errmsg": "no such bot"}))
    receiver.answer("/generic", (500, {}))
    ob.enqueue()
    for _ in range(6):
        ob.clock.advance(600)
        ob.worker.run_once()
    by = {r["channel"]: r for r in ob.rows()}
    assert by["ding"]["status"] == "failed" and by["ding"]["attempts"] == 1
    assert "refused the message: 310000 sign not match" in by["ding"]["last_error"]
    assert by["wecom"]["status"] == "failed" and "HTTP 404" in by["wecom"]["last_error"]
    assert "k-1" not in by["wecom"]["last_error"]  # the bot key in the URL is a secret
    assert by["generic"]["status"] == "failed" and by["generic"]["attempts"] == 4  # retry.attempts
    assert len(receiver.all("/dingtalk")) == 1 and len(receiver.all("/generic")) == 4


def test_a_bot_that_is_rate_limited_is_retried(receiver: Receiver) -> None:
    receiver.answer("/wecom", (200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
    ch = WebhookChannel(type="wecom", url=f"{receiver.url}/wecom")
    msg = render([Notification(event="opened", title="t", text="x" * 10_000, created_at=datetime.now(UTC))])
    sender = WebhookSender()
    with pytest.raises(DeliveryError, match="45009") as exc:
        sender.send("wecom", ch, msg, "d-1")
    assert not exc.value.permanent
    assert len(receiver.all("/wecom")[0].body["markdown"]["content"].encode()) <= WECOM_MAX
    sender.close()


def test_unreachable_endpoint_is_transient() -> None:
    ch = WebhookChannel(type="webhook", url=f"http://127.0.0.1:{free_port()}/x?token=abc", timeout=2)
    msg = render([Notification(event="opened", title="t", text="x", created_at=datetime.now(UTC))])
    with pytest.raises(DeliveryError, match="cannot reach") as exc:
        WebhookSender().send("hook", ch, msg, "d-1")
    assert not exc.value.permanent and "abc" not in str(exc.value)
