from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.ingest import Ingestor
from collector.ssh.config import SshConfig, SshTarget
from collector.ssh.poller import SshPoller
from collector.store import queries
from collector.store.engine import open_engine
from collector.store.schema import hosts
from tests.ssh.sshd import SshServer, require_openssh

RETENTION = {"raw": 86400.0, "1m": 14 * 86400.0, "1h": 730 * 86400.0, "events": 86400.0}


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One server shared by a module's tests (tests that change its host key get their own)."""
    require_openssh()
    server = SshServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def own_sshd(tmp_path: Path) -> Iterator[SshServer]:
    require_openssh()
    server = SshServer(tmp_path / "own-sshd").start()
    yield server
    server.stop()


@dataclass
class Store:
    engine: Engine
    ingestor: Ingestor

    def latest(self, host_id: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        self.ingestor.flush_now()
        with self.engine.connect() as conn:
            rows = queries.latest_values(conn, host_id)
        return {(r["name"], tuple(sorted(r["labels"].items()))): r["value"] for r in rows}

    def host(self, host_id: str) -> dict[str, Any]:
        self.ingestor.flush_now()
        with self.engine.connect() as conn:
            row = conn.execute(select(hosts).where(hosts.c.id == host_id)).mappings().one()
        d = dict(row)
        if isinstance(d["facts"], str):
            d["facts"] = json.loads(d["facts"])
        return d


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = open_engine(f"sqlite:///{tmp_path / 'patrol.sqlite'}")
    ingestor = Ingestor(engine, "test-collector", RETENTION, flush_interval=0.2)
    ingestor.start()
    yield Store(engine, ingestor)
    ingestor.stop()
    engine.dispose()


TargetFactory = Callable[..., SshTarget]


@pytest.fixture
def make_target(tmp_path: Path) -> TargetFactory:
    def make(server: SshServer, host_id: str = "ssh-host", **fields: Any) -> SshTarget:
        known_hosts = fields.pop("known_hosts", None)
        if known_hosts is None:
            known_hosts = server.write_known_hosts(tmp_path / f"known_hosts-{host_id}")
        values: dict[str, Any] = {"host_id": host_id, "customer": "acme", "address": "127.0.0.1",
                                  "port": server.port, "user": server.user, "key_file": server.client_key,
                                  "known_hosts": known_hosts, "timeout": 5, "command_timeout": 10,
                                  "labels": {"role": "db"}, **fields}
        return SshTarget(**values)

    return make


def make_poller(store: Store, *targets: SshTarget, **kwargs: Any) -> SshPoller:
    return SshPoller(SshConfig(targets=list(targets), startup_spread=0), engine=store.engine,
                     ingestor=store.ingestor, collector_id="test-collector", **kwargs)
