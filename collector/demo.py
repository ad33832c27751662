"""The embedded demo: a collector on SQLite, a real local agent and a simulated fleet, all on loopback."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from collector.localrun import ManagedProcess, api_healthy, free_port, wait_until


@dataclass
class DemoPaths:
    root: Path

    @property
    def collector_config(self) -> Path:
        return self.root / "collector.yaml"

    @property
    def agent_config(self) -> Path:
        return self.root / "agent.yaml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def database(self) -> Path:
        return self.data / "patrol.sqlite"

    @property
    def spool(self) -> Path:
        return self.root / "agent-spool"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def reports(self) -> Path:
        return self.root / "reports"


@dataclass
class Demo:
    paths: DemoPaths
    customers: list[dict[str, object]]
    grpc_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    collector: ManagedProcess | None = None
    agent: ManagedProcess | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def prepare(self, fresh: bool = True) -> None:
        """Write the configs; a fresh demo starts from an empty store and spool."""
        root = self.paths.root
        if fresh:
            for p in (self.paths.data, self.paths.spool, self.paths.logs, self.paths.reports):
                shutil.rmtree(p, ignore_errors=True)
        for p in (root, self.paths.logs, self.paths.reports):
            p.mkdir(parents=True, exist_ok=True)
        collector_cfg = {
            "data_dir": "data",
            "listen": self.grpc_target,
            "insecure": True,  # loopback only; production uses tls (see deploy/)
            "api": {"listen": f"127.0.0.1:{self.api_port}",
                    "tokens": [{"name": "demo-admin", "role": "admin", "token": self.token}]},
            "customers": self.customers,
            # The simulated fleet backfills months of history through the ingest door.
            "ingest": {"max_age": "400d"},
        }
        self.paths.collector_config.write_text(
            "# Written by `patrol demo`: an embedded collector on SQLite, loopback only.\n"
            + yaml.safe_dump(collector_cfg, allow_unicode=True, sort_keys=False))
        agent_cfg = {
            "agent_id": "demo-local-agent",
            "customer": self.customers[0]["id"],
            "collector": self.grpc_target,
            "insecure": True,
            "labels": {"role": "demo", "site": "localhost"},
            "spool": {"dir": str(self.paths.spool)},
        }
        self.paths.agent_config.write_text(
            "# Written by `patrol demo`: the real agent, watching this machine.\n"
            + yaml.safe_dump(agent_cfg, sort_keys=False))
        (root / "token").write_text(self.token + "\n")
        (root / "token").chmod(0o600)

    def start_collector(self) -> None:
        self.collector = ManagedProcess("collector.main", self.paths.collector_config,
                                        self.paths.logs / "collector.log", self.paths.root)
        self.collector.start()
        wait_until(lambda: api_healthy(self.api_url, self.collector), 60, f"the collector API at {self.api_url}")

    def start_agent(self) -> None:
        self.agent = ManagedProcess("agent.main", self.paths.agent_config, self.paths.logs / "agent.log",
                                    self.paths.root)
        self.agent.start()

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        if self.collector is not None:
            self.collector.stop()
