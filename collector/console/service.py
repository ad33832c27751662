"""The console's running part: settings, the login limiter, the audit writer and the page renderer.

Routers reach it with :func:`console_of`. It has one periodic job, deleting expired sessions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from collector.console.config import ConsoleSettings
from collector.console.fleet import SparkCache
from collector.console.security import LoginLimiter
from collector.console.sessions import SessionPolicy, expire_sessions
from collector.diagnostics.audit import AuditStore
from collector.scheduler import Every, JobSpec
from collector.services import find_service

if TYPE_CHECKING:
    from collector.app import CollectorApp

# Audit rows written by the console carry this in ``via``.
AUDIT_VIA = "console"


class ConsoleService:
    name = "console"

    def __init__(self, app: CollectorApp, settings: ConsoleSettings) -> None:
        self.app = app
        self.settings = settings
        self.engine = app.engine
        self.clock = app.clock
        self.limiter = LoginLimiter(settings.login_failures, settings.login_window)
        self.audit_store = AuditStore(app.engine, app.collector_id, app.clock)
        self.sparks = SparkCache()
        self._memo: dict[str, tuple[float, Any]] = {}
        self._memo_lock = threading.Lock()
        self.policy = SessionPolicy(idle_ms=int(settings.session_idle * 1000),
                                    absolute_ms=int(settings.session_absolute * 1000))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def memo(self, key: str, ttl_s: float, compute: Callable[[], Any]) -> Any:
        """``compute()``'s value, shared by every request asking within ``ttl_s`` seconds of the last
        computation (several open problem boards cost one reading of the tickets per interval)."""
        now = time.monotonic()
        with self._memo_lock:
            hit = self._memo.get(key)
            if hit is not None and now - hit[0] < ttl_s:
                return hit[1]
        value = compute()
        with self._memo_lock:
            self._memo[key] = (time.monotonic(), value)
        return value

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def audit(self, event: str, actor: str, *, host_id: str | None = None, action: str | None = None,
              args: Mapping[str, Any] | None = None, outcome: str | None = "ok", detail: str | None = None) -> None:
        """Record a write made through the console (blocking: call it from a worker thread)."""
        self.audit_store.record(event, actor=actor, host_id=host_id, action=action,
                                args={k: str(v) for k, v in (args or {}).items()}, outcome=outcome,
                                detail=detail, via=AUDIT_VIA)

    def expire(self) -> int:
        return expire_sessions(self.engine, self.policy, self.now_ms())

    def customer_timezone(self, customer_id: str | None) -> str:
        for c in self.app.cfg.customers:
            if c.id == customer_id:
                return c.timezone
        return "UTC"

    def customer_zones(self) -> dict[str, str]:
        return {c.id: c.timezone for c in self.app.cfg.customers}

    def customer_names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.app.cfg.customers}


def create_service(app: CollectorApp) -> ConsoleService | None:
    settings: ConsoleSettings = app.cfg.section("console")
    return ConsoleService(app, settings) if settings.enabled else None


def jobs(service: ConsoleService) -> list[JobSpec]:
    return [JobSpec("console-sessions", "Console: delete expired sessions", service.expire, Every(600),
                    leader_only=True)]


def console_of(app: Any) -> ConsoleService | None:
    """The console service of a collector app (``request.app.state.collector``), None when disabled."""
    return find_service(app, ConsoleService)
