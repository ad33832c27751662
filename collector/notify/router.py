"""Routing: which channels a notification goes to, by customer, severity and event.

Routes are tried in order like Alertmanager's: the first matching route decides, unless it says
``continue: true``. Channels and e-mail addresses named by the notification itself (an escalation
step's people) are added on top. A notification no route matches and that names nobody goes nowhere,
which is logged by the caller.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from collector.notify.config import NotificationsConfig, Route
from collector.notify.model import Notification

# The pseudo-channel of e-mail sent to addresses a notification names itself.
DIRECT_EMAIL = "@email"


@dataclass(frozen=True)
class Destination:
    channel: str
    recipients: tuple[str, ...] = ()  # only for DIRECT_EMAIL

    @property
    def group_key(self) -> str:
        return self.channel + ("|" + ",".join(self.recipients) if self.recipients else "")


def _matches(route: Route, n: Notification) -> bool:
    if route.customers is not None and not any(
            n.customer_id is not None and fnmatch.fnmatchcase(n.customer_id, c) for c in route.customers):
        return False
    if route.severities is not None and n.severity not in route.severities:
        return False
    return route.events is None or n.event in route.events


class Router:
    def __init__(self, cfg: NotificationsConfig) -> None:
        self.cfg = cfg

    def route(self, n: Notification) -> list[Destination]:
        names: list[str] = []
        for route in self.cfg.routes:
            if _matches(route, n):
                names.extend(route.channels)
                if not route.continue_:
                    break
        names.extend(c for c in n.channels if c in self.cfg.channels)
        out = [Destination(c) for c in dict.fromkeys(names)]
        if n.emails and self.cfg.smtp is not None:
            out.append(Destination(DIRECT_EMAIL, tuple(sorted(set(n.emails)))))
        return out

    def unknown_channels(self, n: Notification) -> list[str]:
        return [c for c in n.channels if c not in self.cfg.channels]
