"""The durable outbox: enqueue in the caller's transaction, deliver from a worker thread.

- ``Outbox.enqueue(conn, notification)`` routes a notification and inserts one row per destination
  in the caller's transaction: a ticket change and its notification commit together, and nothing on
  the ingest or API path waits for SMTP or HTTP.
- ``OutboxWorker`` (own thread) groups and delivers. Rows for one destination that arrive within
  ``burst_window`` of the oldest pending one go out as one message. A failed delivery is retried with
  exponential backoff as the same message (same ``delivery_id``); after ``retry.attempts`` it is
  failed. A claimed row whose worker died returns to the queue when its lease ends, so delivery is
  at least once; the ``X-Patrol-Delivery`` header / e-mail header lets a receiver drop the rare
  duplicate.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import Connection, Engine, and_, delete, or_, select, update

from collector.metrics import REGISTRY
from collector.notify.config import EmailChannel, NotificationsConfig, WebhookChannel
from collector.notify.email import DeliveryError, EmailSender
from collector.notify.model import Notification, Rendered, render
from collector.notify.router import DIRECT_EMAIL, Router
from collector.notify.tables import notify_outbox
from collector.notify.webhooks import WebhookSender

log = logging.getLogger("patrol.notify")

sent_total = Counter("patrol_notifications_sent_total", "Messages delivered, by channel", ["channel"],
                     registry=REGISTRY)
failed_total = Counter("patrol_notification_failures_total", "Delivery attempts that failed, by channel and kind",
                       ["channel", "kind"], registry=REGISTRY)
pending_gauge = Gauge("patrol_notifications_pending", "Notifications waiting in the outbox", registry=REGISTRY)


class Outbox:
    def __init__(self, cfg: NotificationsConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.router = Router(cfg)
        self.clock = clock

    def enqueue(self, conn: Connection, n: Notification) -> list[str]:
        """Insert the notification for every destination; returns the destinations' names."""
        if not self.cfg.enabled:
            return []
        unknown = self.router.unknown_channels(n)
        if unknown:
            log.warning("event=notify_unknown_channel channels=%s", ",".join(unknown))
        dests = self.router.route(n)
        if not dests:
            return []
        now_ms = int(self.clock() * 1000)
        payload = n.to_dict()
        conn.execute(notify_outbox.insert(), [{
            "channel": d.channel, "group_key": d.group_key, "recipients": list(d.recipients), "event": n.event,
            "customer_id": n.customer_id, "severity": n.severity, "ticket_id": n.ticket_id, "payload": payload,
            "created_ms": now_ms, "status": "pending", "attempts": 0, "next_attempt_ms": now_ms,
        } for d in dests])
        return [d.group_key for d in dests]


class Deliverer:
    """Sends one rendered message to one destination through SMTP or a webhook."""

    def __init__(self, cfg: NotificationsConfig, clock: Callable[[], float] = time.time,
                 webhooks: WebhookSender | None = None) -> None:
        self.cfg = cfg
        self.webhooks = webhooks or WebhookSender(clock)
        self.email = EmailSender(cfg.smtp) if cfg.smtp is not None else None

    def deliver(self, channel: str, recipients: list[str], msg: Rendered, delivery_id: str) -> str | None:
        """Deliver or raise DeliveryError; returns a warning for a partial success."""
        if channel == DIRECT_EMAIL:
            return self._mail(recipients, msg, "[Patrol]", delivery_id)
        ch = self.cfg.channels.get(channel)
        if ch is None:
            raise DeliveryError(f"channel {channel!r} is no longer configured", permanent=True)
        if isinstance(ch, EmailChannel):
            return self._mail(list(ch.to), msg, ch.subject_prefix, delivery_id)
        assert isinstance(ch, WebhookChannel)
        self.webhooks.send(channel, ch, msg, delivery_id)
        return None

    def _mail(self, to: list[str], msg: Rendered, prefix: str, delivery_id: str) -> str | None:
        if self.email is None:
            raise DeliveryError("e-mail needs notifications.smtp", permanent=True)
        refused = self.email.send(to, msg, prefix, delivery_id)
        return f"refused recipients: {', '.join(refused)}" if refused else None

    def close(self) -> None:
        self.webhooks.close()


@dataclass
class _Group:
    key: str
    channel: str
    delivery_id: str | None
    ids: list[int]


@dataclass
class RunReport:
    sent: int = 0  # messages (a grouped burst counts once)
    notifications: int = 0  # rows settled as sent
    failed: int = 0  # attempts that failed
    dead: int = 0  # messages given up


class OutboxWorker:
    """Delivers due outbox rows; ``run_once`` is one pass (tests call it with an injected clock)."""

    def __init__(self, engine: Engine, cfg: NotificationsConfig, clock: Callable[[], float] = time.time,
                 deliverer: Deliverer | None = None, workers: int = 4) -> None:
        self.engine = engine
        self.cfg = cfg
        self.clock = clock
        self.deliverer = deliverer or Deliverer(cfg, clock)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="patrol-notify-send")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_purge = 0.0
        self._lock = threading.Lock()

    # -- thread ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="patrol-notify", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.deliverer.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("event=notify_pass_failed")
            self._wake.wait(self.cfg.poll_interval)
            self._wake.clear()

    # -- one pass -------------------------------------------------------------------------------

    def run_once(self) -> RunReport:
        with self._lock:
            now_ms = int(self.clock() * 1000)
            report = RunReport()
            self._reclaim(now_ms)
            groups = self._due_groups(now_ms)
            claimed = [c for c in (self._claim(g, now_ms) for g in groups) if c is not None]
            futures = [self._pool.submit(self._attempt, g, rows) for g, rows in claimed]
            for (g, rows), fut in zip(claimed, futures, strict=True):
                error, warning = fut.result()
                self._settle(g, rows, error, warning, report)
            if self.clock() - self._last_purge > 3600:
                self._purge(now_ms)
                self._last_purge = self.clock()
            return report

    def _reclaim(self, now_ms: int) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(update(notify_outbox)
                             .where(notify_outbox.c.status == "sending", notify_outbox.c.lease_until_ms < now_ms)
                             .values(status="pending", claim=None, lease_until_ms=None)).rowcount
        if n:
            log.warning("event=notify_lease_expired rows=%d (a delivery was interrupted; resending)", n)

    def _due_groups(self, now_ms: int) -> list[_Group]:
        t = notify_outbox.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.id, t.channel, t.group_key, t.delivery_id, t.created_ms)
                .where(t.status == "pending",
                       or_(t.delivery_id.is_(None), t.next_attempt_ms <= now_ms))
                .order_by(t.id).limit(5000)).all()
        pending_gauge.set(len(rows))
        groups: dict[tuple[str, str | None], _Group] = {}
        oldest: dict[tuple[str, str | None], int] = {}
        for r in rows:
            k = (r.group_key, r.delivery_id)
            g = groups.setdefault(k, _Group(r.group_key, r.channel, r.delivery_id, []))
            g.ids.append(r.id)
            oldest.setdefault(k, r.created_ms)
        burst_ms = int(self.cfg.burst_window * 1000)
        size = self.cfg.max_group
        due: list[_Group] = []
        for k, g in groups.items():
            if g.delivery_id is None and oldest[k] + burst_ms > now_ms:
                continue  # the burst may still grow
            due.extend(_Group(g.key, g.channel, g.delivery_id, g.ids[i:i + size]) for i in range(0, len(g.ids), size))
        return due

    def _claim(self, g: _Group, now_ms: int) -> tuple[_Group, list[Any]] | None:
        token = uuid.uuid4().hex
        g.delivery_id = g.delivery_id or uuid.uuid4().hex
        t = notify_outbox.c
        with self.engine.begin() as conn:
            conn.execute(update(notify_outbox)
                         .where(t.id.in_(g.ids), t.status == "pending")
                         .values(status="sending", claim=token, delivery_id=g.delivery_id,
                                 lease_until_ms=now_ms + int(self.cfg.lease * 1000)))
            rows = conn.execute(select(t.id, t.payload, t.recipients, t.attempts)
                                .where(t.claim == token).order_by(t.id)).all()
        if not rows:
            return None  # another collector took them
        g.ids = [r.id for r in rows]
        return g, list(rows)

    def _attempt(self, g: _Group, rows: list[Any]) -> tuple[DeliveryError | None, str | None]:
        msg = render([Notification.from_dict(r.payload) for r in rows])
        assert g.delivery_id is not None
        try:
            return None, self.deliverer.deliver(g.channel, list(rows[0].recipients or []), msg, g.delivery_id)
        except DeliveryError as e:
            return e, None
        except Exception as e:  # a bug in a sender must not kill the worker or lose the rows
            log.exception("event=notify_sender_crashed channel=%s", g.channel)
            return DeliveryError(f"internal error while sending: {type(e).__name__}"), None

    def _settle(self, g: _Group, rows: list[Any], error: DeliveryError | None, warning: str | None,
                report: RunReport) -> None:
        now_ms = int(self.clock() * 1000)
        t = notify_outbox.c
        attempts = max(r.attempts for r in rows) + 1
        where = and_(t.id.in_(g.ids), t.status == "sending")
        with self.engine.begin() as conn:
            if error is None:
                conn.execute(update(notify_outbox).where(where).values(
                    status="sent", sent_ms=now_ms, attempts=attempts, claim=None, lease_until_ms=None,
                    last_error=warning))
                report.sent += 1
                report.notifications += len(rows)
                sent_total.labels(g.channel).inc()
                log.info("event=notify_sent channel=%s notifications=%d delivery=%s attempts=%d", g.channel,
                         len(rows), g.delivery_id, attempts)
                return
            report.failed += 1
            give_up = error.permanent or attempts >= self.cfg.retry.attempts
            failed_total.labels(g.channel, "permanent" if give_up else "transient").inc()
            if give_up:
                report.dead += 1
                conn.execute(update(notify_outbox).where(where).values(
                    status="failed", attempts=attempts, claim=None, lease_until_ms=None, last_error=str(error)))
                log.error("event=notify_failed channel=%s notifications=%d attempts=%d error=%r", g.channel,
                          len(rows), attempts, str(error))
                return
            delay_ms = int(self.cfg.retry.delay(attempts) * 1000)
            conn.execute(update(notify_outbox).where(where).values(
                status="pending", attempts=attempts, claim=None, lease_until_ms=None, last_error=str(error),
                next_attempt_ms=now_ms + delay_ms))
            log.warning("event=notify_retry channel=%s attempts=%d retry_in_s=%.0f error=%r", g.channel, attempts,
                        delay_ms / 1000, str(error))

    def _purge(self, now_ms: int) -> None:
        t = notify_outbox.c
        with self.engine.begin() as conn:
            conn.execute(delete(notify_outbox).where(t.status.in_(("sent", "failed")),
                                                     t.created_ms < now_ms - int(self.cfg.keep_sent * 1000)))


def outbox_rows(conn: Connection, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recent outbox rows for the API (no secrets are stored in them)."""
    t = notify_outbox.c
    q = select(t.id, t.channel, t.event, t.customer_id, t.severity, t.ticket_id, t.status, t.attempts,
               t.delivery_id, t.created_ms, t.sent_ms, t.next_attempt_ms, t.last_error, t.payload)
    if status:
        q = q.where(t.status == status)
    out = []
    for r in conn.execute(q.order_by(t.id.desc()).limit(limit)):
        d = dict(r._mapping)
        d["title"] = d.pop("payload", {}).get("title")
        for k in ("created_ms", "sent_ms", "next_attempt_ms"):
            v = d.pop(k)
            d[k[:-3] + "_at"] = datetime.fromtimestamp(v / 1000, tz=UTC).isoformat() if v else None
        out.append(d)
    return out
