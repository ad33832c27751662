"""The collector process: state store, ingest writer, gRPC server, HTTP API and job scheduler in one event loop.

Features (see :mod:`collector.features`) contribute services, started here in registry order after
the store, ingest and gRPC server, and periodic jobs, which all run in one :class:`JobScheduler`.
Loops that are not periodic jobs stay where they are: the ingest writer (flushes on its own queue
and timer so acks wait no longer than ``store.flush_interval``), the cluster heartbeat (it decides
who holds the lease the scheduler checks, so it cannot depend on it), the notification outbox
(woken by new messages, not by a clock), the InfluxDB exporter (follows the ingest log as it
grows), the diagnostics relay (sub-second polling while an engineer waits) and the gRPC streams.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import Engine, update

from collector.collector_id import collector_id_for
from collector.config import CollectorConfig
from collector.core_jobs import compaction_job
from collector.features import resolve
from collector.ingest import RETENTION_EVERY_S, Ingestor
from collector.scheduler import Every, JobSpec
from collector.scheduler.runner import JobScheduler
from collector.server import AgentService, server_options
from collector.store.engine import open_engine
from collector.store.rollup import _insert
from collector.store.schema import customers, hosts

log = logging.getLogger("patrol.collector")


def sync_customers(engine: Engine, cfg: CollectorConfig) -> None:
    """Customers are defined in the configuration; the store mirrors them for queries and reports."""
    rows = [{"id": c.id, "name": c.name, "timezone": c.timezone, "language": c.language,
             "info": {"address": c.address, "contacts": [ct.model_dump() for ct in c.contacts]}}
            for c in cfg.customers]
    if not rows:
        return
    with engine.begin() as conn:
        ins = _insert(conn, customers)
        conn.execute(ins.on_conflict_do_update(
            index_elements=[customers.c.id],
            set_={k: ins.excluded[k] for k in ("name", "timezone", "language", "info")}), rows)


class CollectorApp:
    def __init__(self, cfg: CollectorConfig, clock: Any = time.time) -> None:
        self.cfg = cfg
        self.clock = clock
        self.collector_id = collector_id_for(cfg)
        self.engine = open_engine(cfg.store_url())
        r = cfg.retention
        self.ingestor = Ingestor(self.engine, self.collector_id,
                                 {"raw": r.raw, "1m": r.rollup_1m, "1h": r.rollup_1h, "events": r.events},
                                 flush_interval=cfg.store.flush_interval,
                                 coarse_flush_interval=cfg.store.coarse_flush_interval,
                                 queue_size=cfg.limits.ingest_queue,
                                 clock=clock)
        from collector.pki.runtime import Pki

        # With TLS: the CA, enrollment and the revocation list; with client_ca, identity from certificates.
        self.pki = Pki.for_collector(cfg, self.engine, self.collector_id, clock)
        self.service = AgentService(cfg, self.ingestor, self.collector_id, clock=clock,
                                    identify=self.pki.identify if self.pki is not None else None)
        from collector.cluster.membership import Cluster
        from collector.cluster.takeover import Takeover

        cl = cfg.cluster
        self.cluster = Cluster(self.engine, self.collector_id, listen=cfg.listen, api=cfg.api.listen,
                               heartbeat_s=cl.heartbeat, lease_ttl_s=cl.lease_ttl,
                               sessions=lambda: len(self.service.sessions))
        self.cluster.on_leader_beat.append(Takeover(self.engine, self.ingestor.retention_s, clock))
        self.grpc_server: grpc.aio.Server | None = None
        self.grpc_port = 0
        self._api_server: Any = None
        self._api_task: asyncio.Task[None] | None = None
        self.services: list[Any] = []
        from collector.cluster.membership import leads

        self.scheduler = JobScheduler(self.engine, self.collector_id, cfg.section("jobs"),
                                      leads=lambda: leads(self), clock=clock)

    async def start(self, api: bool = True) -> None:
        sync_customers(self.engine, self.cfg)
        with self.engine.begin() as conn:
            # Streams this collector held before it stopped are gone.
            conn.execute(update(hosts).where(hosts.c.connected_to == self.collector_id)
                         .values(connected=False, connected_to=None))
        if self.engine.dialect.name == "sqlite":
            others = [m.id for m in self.cluster.members() if m.alive and m.id != self.collector_id]
            if others:
                raise OSError(f"collector {others[0]} is running on the same SQLite store; several collectors "
                              "need a PostgreSQL store (see docs/scale-out.md)")
        self.ingestor.start()
        server = grpc.aio.server(options=server_options(self.cfg))
        server.add_generic_rpc_handlers((self.service.handler(),))
        if self.cfg.tls is not None:
            self.grpc_port = server.add_secure_port(self.cfg.listen, self._server_credentials())
        else:
            self.grpc_port = server.add_insecure_port(self.cfg.listen)
        if self.grpc_port == 0:
            raise OSError(f"cannot listen on {self.cfg.listen} for gRPC (address in use or not available)")
        await server.start()
        self.grpc_server = server
        log.info("event=grpc_listening address=%s tls=%s", self.cfg.listen, self.cfg.tls is not None)
        self.cluster.start()
        from collector.services import factories

        for feature, factory in factories():
            service = factory(self)
            if service is not None:
                await service.start()
                self.services.append(service)
                log.info("event=service_started service=%s", service.name)
                if feature.jobs is not None:
                    self.scheduler.add(resolve(feature.jobs)(service))
        self.scheduler.add(self.core_jobs())
        self.scheduler.check_config()
        self.scheduler.start()
        if api:
            await self._start_api()

    def core_jobs(self) -> list[JobSpec]:
        # Every collector expires its own raw batches, so retention is not a leader-only job; the
        # leader does it for members that are gone.
        from collector.cluster.takeover import expire_gone_members

        def gone_members() -> None:
            expire_gone_members(self.engine, self.collector_id, self.cluster.ttl_ms, self.ingestor.retention_s,
                                self.clock())

        return [JobSpec("retention", "Retention: delete data past its retention", self.ingestor.run_retention,
                        Every(RETENTION_EVERY_S), leader_only=False),
                compaction_job(self.engine, self.clock),
                JobSpec("retention-of-gone-members", "Retention: raw batches of collectors that are gone",
                        gone_members, Every(RETENTION_EVERY_S))]

    def _server_credentials(self) -> grpc.ServerCredentials:
        tls = self.cfg.tls
        assert tls is not None
        key = Path(tls.key).read_bytes()
        cert = Path(tls.cert).read_bytes()
        ca = Path(tls.client_ca).read_bytes() if tls.client_ca else None
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                           require_client_auth=ca is not None)

    async def _start_api(self) -> None:
        import uvicorn

        from collector.api import create_api

        host, _, port = self.cfg.api.listen.rpartition(":")
        config = uvicorn.Config(create_api(self), host=host, port=int(port), log_level="warning",
                                access_log=False, lifespan="off")
        self._api_server = uvicorn.Server(config)
        self._api_server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._api_task = asyncio.create_task(self._api_server.serve())
        for _ in range(200):
            if self._api_server.started or self._api_task.done():
                break
            await asyncio.sleep(0.02)
        if self._api_task.done():
            raise OSError(f"cannot listen on {self.cfg.api.listen} for the HTTP API (address in use?)")
        log.info("event=api_listening address=%s", self.cfg.api.listen)

    async def stop(self, grace: float = 5.0) -> None:
        # Runs in progress finish before the services they use stop.
        await asyncio.get_running_loop().run_in_executor(None, self.scheduler.shutdown)
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:
                log.exception("event=service_stop_failed service=%s", service.name)
        await self.cluster.stop()
        if self.grpc_server is not None:
            await self.grpc_server.stop(grace)
        if self._api_server is not None:
            self._api_server.should_exit = True
            if self._api_task is not None:
                await asyncio.wait({self._api_task}, timeout=5)
        await asyncio.get_running_loop().run_in_executor(None, self.ingestor.stop)
        self.engine.dispose()
