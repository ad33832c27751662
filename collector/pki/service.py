"""The PKI's part of the collector's lifecycle.

- Ends the live stream of an agent whose certificate was just revoked (the agent reconnects and is
  refused), whether the revocation came through this collector's API or, found by the periodic
  revocation-list refresh, through another collector sharing the store.
- Serves the enrollment endpoint over HTTPS on ``tls.pki.enroll_listen`` when that is set, with the
  gRPC port's certificate, for agents that cannot reach the (usually loopback-only) HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from collector.pki.ca import serial_hex
from collector.pki.crl import Revocation
from collector.pki.identity import peer_certificate
from collector.pki.runtime import Pki
from protos.patrol.v1 import agent_pb2 as pb

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.pki")


class PkiService:
    name = "pki"

    def __init__(self, app: CollectorApp, pki: Pki) -> None:
        self.app = app
        self.pki = pki
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._https: Any = None
        self._https_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.pki.on_revoked = self._revoked_elsewhere
        self._refresh = asyncio.create_task(self._refresh_loop())
        if self.pki.settings.enroll_listen:
            await self._start_https(self.pki.settings.enroll_listen)

    async def stop(self) -> None:
        self.pki.on_revoked = None
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
        if self._https is not None:
            self._https.should_exit = True
            if self._https_task is not None:
                await asyncio.wait({self._https_task}, timeout=5)

    # ------------------------------------------------------------------ ending revoked streams

    def _revoked_elsewhere(self, revoked: list[Revocation]) -> None:
        """Called from API worker threads: hop onto the event loop that owns the sessions."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.disconnect, {r.serial for r in revoked})

    def disconnect(self, serials: set[str]) -> int:
        """Say goodbye on every live stream whose client certificate has one of these serials."""
        ended = 0
        for host, session in list(self.app.service.sessions.items()):
            cert = peer_certificate(session.context)
            if cert is None or serial_hex(cert) not in serials:
                continue
            session.outbound.put_nowait(pb.CollectorMessage(goodbye=pb.Goodbye(
                reason="this agent's certificate was revoked")))
            session.outbound.put_nowait(None)
            ended += 1
            log.warning("event=stream_ended_revoked host=%s serial=%s", host, serial_hex(cert))
        return ended

    async def _refresh_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.pki.settings.crl_refresh)
            try:
                new = await loop.run_in_executor(None, self.pki.crl.refresh)
            except Exception:
                log.exception("event=crl_refresh_failed")
                continue
            if new:
                log.info("event=crl_refreshed new=%d", len(new))
                self.disconnect({r.serial for r in new})

    # ------------------------------------------------------------------ the HTTPS enrollment endpoint

    async def _start_https(self, listen: str) -> None:
        import uvicorn

        from collector.pki.api import create_enroll_api

        tls = self.app.cfg.tls
        assert tls is not None
        host, _, port = listen.rpartition(":")
        config = uvicorn.Config(create_enroll_api(self.app), host=host.strip("[]"), port=int(port),
                                ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key), log_level="warning",
                                access_log=False, lifespan="off")
        self._https = uvicorn.Server(config)
        self._https.install_signal_handlers = lambda: None
        self._https_task = asyncio.create_task(self._https.serve())
        for _ in range(200):
            if self._https.started or self._https_task.done():
                break
            await asyncio.sleep(0.02)
        if self._https_task.done():
            raise OSError(f"cannot listen on {listen} for enrollment (tls.pki.enroll_listen: address in use?)")
        log.info("event=enroll_listening address=%s", listen)


def pki_service(app: CollectorApp) -> PkiService | None:
    """Service factory for :mod:`collector.services`: None unless the collector has TLS."""
    pki = getattr(app, "pki", None)
    return PkiService(app, pki) if pki is not None else None
