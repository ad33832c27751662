"""Notifications: e-mail (SMTP) and webhooks (generic, DingTalk, WeCom, Feishu) through a durable outbox.

::

    outbox = Outbox(cfg.section("notifications"), clock)
    with engine.begin() as conn:
        outbox.enqueue(conn, Notification(event="opened", title="…", text="…", created_at=now))
    # the OutboxWorker thread (service "notifications") routes, groups bursts, delivers and retries
"""

from collector.notify.config import NotificationsConfig
from collector.notify.model import Notification, Rendered, render
from collector.notify.outbox import Deliverer, Outbox, OutboxWorker

__all__ = ["Deliverer", "Notification", "NotificationsConfig", "Outbox", "OutboxWorker", "Rendered", "render"]
