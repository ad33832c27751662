"""Webhooks: generic JSON, and the DingTalk, WeCom (企业微信) and Feishu (飞书) bot message formats.

Chat bots answer HTTP 200 also when they reject a message; the verdict is in the body (``errcode``
for DingTalk and WeCom, ``code`` for Feishu), so it is checked. Rate limits and server errors are
transient (retried with backoff); a wrong token, signature or URL is permanent.

Signing (optional): DingTalk puts ``timestamp`` and ``sign`` in the query string,
HMAC-SHA256(key=secret, msg="{timestamp_ms}\\n{secret}"); Feishu puts them in the body,
HMAC-SHA256(key="{timestamp_s}\\n{secret}", msg="").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx

from collector.notify.config import WebhookChannel
from collector.notify.email import DeliveryError
from collector.notify.model import Rendered, truncate_utf8

# Bytes a bot accepts in one message (documented limits, with some room).
DINGTALK_MAX = 18000
WECOM_MAX = 4000
FEISHU_MAX = 28000
_TRANSIENT_CODES = {130101, 45009, 11232, 9499, -1}  # "sending too fast" / busy across the three APIs
_FEISHU_TEMPLATE = {"L1": "red", "L2": "orange", "L3": "yellow", "L4": "blue"}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def generic_payload(msg: Rendered, delivery_id: str) -> dict[str, Any]:
    return {"delivery_id": delivery_id, "title": msg.title, "severity": msg.severity, "count": msg.count,
            "text": msg.text, "markdown": msg.markdown, "notifications": [n.to_dict() for n in msg.notifications]}


def dingtalk_payload(msg: Rendered, mention: list[str]) -> dict[str, Any]:
    text = msg.markdown
    if mention:
        # DingTalk only notifies people whose @mobile also appears in the text.
        text += "\n\n" + " ".join(f"@{m}" for m in mention)
    return {"msgtype": "markdown", "markdown": {"title": msg.title[:100], "text": truncate_utf8(text, DINGTALK_MAX)},
            "at": {"atMobiles": list(mention), "isAtAll": False}}


def wecom_payload(msg: Rendered) -> dict[str, Any]:
    # WeCom markdown knows headings, bold, links and quotes: the shared Markdown renders as is.
    return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(msg.markdown, WECOM_MAX)}}


def _lark_md(markdown: str) -> str:
    # Feishu's lark_md has no headings: make them bold lines.
    out = []
    for line in markdown.splitlines():
        if line.startswith("#"):
            line = f"**{line.lstrip('#').strip()}**"
        elif line.strip() == "---":
            line = "—" * 8
        out.append(line)
    return "\n".join(out)


def feishu_payload(msg: Rendered, fmt: str) -> dict[str, Any]:
    if fmt == "text":
        return {"msg_type": "text", "content": {"text": truncate_utf8(f"{msg.title}\n\n{msg.text}", FEISHU_MAX)}}
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": msg.title[:200]},
                   "template": _FEISHU_TEMPLATE.get(msg.severity or "", "grey")},
        "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": truncate_utf8(_lark_md(msg.markdown),
                                                                                          FEISHU_MAX)}}],
    }}


def build_request(channel: WebhookChannel, msg: Rendered, delivery_id: str, now: float
                  ) -> tuple[dict[str, str], dict[str, Any]]:
    """(query parameters, JSON body) for ``channel``'s format."""
    params: dict[str, str] = {}
    secret = channel.signing_secret()
    if channel.type == "dingtalk":
        body = dingtalk_payload(msg, channel.mention)
        if secret:
            ts = int(now * 1000)
            params = {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)}
    elif channel.type == "wecom":
        body = wecom_payload(msg)
    elif channel.type == "feishu":
        body = feishu_payload(msg, "text" if channel.format == "text" else "interactive")
        if secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
    else:
        body = generic_payload(msg, delivery_id)
    return params, body


def _redact(url: str) -> str:
    """Bot URLs carry their access token: show scheme, host and path start only."""
    u = httpx.URL(url)
    path = u.path if len(u.path) <= 24 else u.path[:24] + "…"
    return f"{u.scheme}://{u.host}{f':{u.port}' if u.port else ''}{path}"


class WebhookSender:
    def __init__(self, clock: Callable[[], float] = time.time, client: httpx.Client | None = None) -> None:
        self.clock = clock
        self._client = client or httpx.Client(follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def send(self, name: str, channel: WebhookChannel, msg: Rendered, delivery_id: str) -> None:
        try:
            url = channel.target()
        except LookupError as e:
            raise DeliveryError(f"channel {name!r}: {e}", permanent=True) from None
        params, body = build_request(channel, msg, delivery_id, self.clock())
        headers = {"X-Patrol-Delivery": delivery_id, **(channel.headers if channel.type == "webhook" else {})}
        where = _redact(url)
        try:
            # Merge, not replace: bot URLs carry their access token in the query string.
            target = httpx.URL(url).copy_merge_params(params) if params else url
            r = self._client.post(target, json=body, headers=headers, timeout=channel.timeout)
        except httpx.TimeoutException:
            raise DeliveryError(f"channel {name!r}: {where} did not answer within {channel.timeout:g}s") from None
        except httpx.HTTPError as e:
            raise DeliveryError(f"channel {name!r}: cannot reach {where}: {type(e).__name__}") from None
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise DeliveryError(f"channel {name!r}: {where} answered HTTP {r.status_code}; will retry")
        if r.status_code >= 300:
            raise DeliveryError(f"channel {name!r}: {where} answered HTTP {r.status_code} {r.text[:200]!r}; "
                                "check the URL and token", permanent=True)
        if channel.type != "webhook":
            self._check_bot_answer(name, channel.type, r)

    @staticmethod
    def _check_bot_answer(name: str, kind: str, r: httpx.Response) -> None:
        try:
            answer = r.json()
        except ValueError:
            raise DeliveryError(f"channel {name!r}: the {kind} bot answered with something that is not JSON: "
                                f"{r.text[:200]!r}") from None
        if not isinstance(answer, dict):
            return
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        if code in (0, None):
            return
        text = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
        raise DeliveryError(f"channel {name!r}: the {kind} bot refused the message: {code} {text}",
                            permanent=code not in _TRANSIENT_CODES)
