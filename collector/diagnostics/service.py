"""The ``diagnostics`` collector service: the signing key, the router, and the gRPC callback."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from collector.cluster.membership import members
from collector.diagnostics.audit import AuditStore
from collector.diagnostics.config import DiagnosticsSettings
from collector.diagnostics.relay import Relay
from collector.diagnostics.router import AmbiguousHostName, DiagnosticsRouter, HostLookup
from collector.diagnostics.signing import Signer, key_dir
from collector.store import queries

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.diagnostics")


def settings_of(app: CollectorApp) -> DiagnosticsSettings:
    """The ``diagnostics`` section of collector.yaml (the defaults when it has none)."""
    settings: DiagnosticsSettings = app.cfg.section("diagnostics")
    return settings


class DiagnosticsService:
    name = "diagnostics"

    def __init__(self, app: CollectorApp, settings: DiagnosticsSettings | None = None) -> None:
        self.app = app
        self.settings = settings or settings_of(app)
        self.audit = AuditStore(app.engine, app.collector_id, app.clock)
        self.signer: Signer | None = None
        self.router: DiagnosticsRouter | None = None

    async def start(self) -> None:
        directory = self.settings.key_dir or key_dir(self.app.cfg.data_dir)
        self.signer = await asyncio.to_thread(Signer.load_or_create, directory)
        self.router = DiagnosticsRouter(
            self.app.service, self.signer, self.audit, self.settings, collector_id=self.app.collector_id,
            find_host=self._find_host, ssh=self._ssh_poller, clock=self.app.clock,
            relay=Relay(self.app.engine, self.app.collector_id), relay_poll=self.app.cfg.cluster.relay_poll)
        self.router.start()
        self.app.service.on_diagnostic_result = self.router.on_result
        log.info("event=diagnostics_ready key=%s public_key=%s", self.signer.fingerprint,
                 directory / "signing_key.pub.pem")

    async def stop(self) -> None:
        if self.router is not None:
            self.app.service.on_diagnostic_result = None
            await self.router.stop()

    def _find_host(self, ref: str) -> HostLookup | None:
        with self.app.engine.connect() as conn:
            try:
                row = queries.find_host(conn, ref)
            except queries.AmbiguousHost as e:
                raise AmbiguousHostName(str(e)) from None
            if row is None:
                return None
            holder = row["connected_to"] if row["connected"] else None
            alive = None
            if holder and holder != self.app.collector_id:
                alive = next((m.alive for m in members(conn, self.app.cluster.ttl_ms) if m.id == holder), False)
        return HostLookup(row["id"], int(row["last_seen_ms"]), bool(row["connected"]), row["connected_to"],
                          relay_to=holder if alive else None, stale_member=alive is False)

    def _ssh_poller(self) -> Any:
        from collector.ssh import find_poller

        return find_poller(self.app)


def diagnostics_service(app: CollectorApp) -> DiagnosticsService:
    """Service factory for :mod:`collector.services`: always on (the agents decide what they allow)."""
    return DiagnosticsService(app)


def find_service(app: Any) -> DiagnosticsService | None:
    from collector.services import find_service as find

    return find(app, DiagnosticsService)
