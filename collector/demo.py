"""The embedded demo: a collector on SQLite, a real local agent and a simulated fleet, all on loopback."""

from __future__ import annotations

import json
import secrets
import shlex
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from collector.localrun import ManagedProcess, api_healthy, free_port, port_available, wait_until

DEFAULT_GRPC_PORT = 4317
DEFAULT_API_PORT = 8080
# Several live intervals of the simulated fleet and the local agent: a host that streams is never
# taken for offline.
DEMO_OFFLINE_AFTER_S = 45

DEMO_POLICY_NAME = "ticket-policy.yaml"
# Critical findings open tickets; warnings stay in the inspection report. A warning near its threshold
# can land on either side of it in two runs minutes apart, and the demo raises the same tickets every run.
DEMO_POLICY = """\
# Written by `patrol demo`: the ticket policy for inspection findings (docs/tickets.md).
rules:
  - name: security findings
    categories: [data_security]
    states: [critical]
    severity: L1
  - name: other critical findings
    states: [critical]
    severity: L2
  - name: manual checklist rows marked abnormal
    states: [issue]
    severity: L3
"""


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

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def env(self) -> Path:
        """Shell assignments of the CLI's environment variables: ``source demo-data/env``."""
        return self.root / "env"

    @property
    def fleet(self) -> Path:
        """The simulation settings the stored history was made with, so a reuse simulates the same fleet."""
        return self.root / "fleet.json"

    @property
    def signing_keys(self) -> Path:
        """Where the collector keeps its diagnostics signing key pair."""
        from collector.diagnostics.signing import key_dir  # loads cryptography: only when needed

        return key_dir(self.data)

    @property
    def signing_public_key(self) -> Path:
        from collector.diagnostics.signing import PUBLIC_NAME

        return self.signing_keys / PUBLIC_NAME

    def has_history(self) -> bool:
        return self.database.exists() and self.fleet.exists()


@dataclass(frozen=True)
class FleetSettings:
    agents: int
    customers: int
    history: str
    seed: int

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> FleetSettings:
        return cls(**json.loads(path.read_text()))


DEMO_PROVIDER = "示例科技 售后服务部"
DEMO_LOGO_NAME = "provider-logo.svg"
DEMO_LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="64" viewBox="0 0 240 64">'
             '<rect width="240" height="64" rx="8" fill="#1e3a8a"/>'
             '<circle cx="36" cy="32" r="16" fill="none" stroke="#93c5fd" stroke-width="5"/>'
             '<path d="M28 32l6 6 11-13" fill="none" stroke="#ffffff" stroke-width="5"/>'
             '<text x="66" y="41" fill="#ffffff" font-family="DejaVu Sans, sans-serif" font-size="24">Patrol</text>'
             '</svg>\n')


def demo_customers(n_customers: int) -> list[dict[str, object]]:
    """The collector's ``customers:`` entries of the simulated fleet's first ``n_customers`` customers."""
    from collector.simulator.fleet import customers_for

    return [{"id": c.id, "name": c.name, "timezone": c.timezone, "language": c.language}
            for c in customers_for(n_customers)]


def choose_port(preferred: int, what: str) -> tuple[int, str | None]:
    """``preferred`` when it is free (0: any free port), else a free one and a message saying so."""
    if preferred == 0:
        return free_port(), None
    if port_available(preferred):
        return preferred, None
    port = free_port()
    return port, f"port {preferred} for the {what} is taken (another collector or `make serve`?); using {port}"


def serving_url(paths: DemoPaths) -> str | None:
    """The API address of a demo collector still running from ``paths`` (per its env file), if any."""
    try:
        text = paths.env.read_text()
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        if line.startswith("export PATROL_URL="):
            url = shlex.split(line.removeprefix("export PATROL_URL="))[0]
            return url if api_healthy(url) else None
    return None


def new_token() -> str:
    return secrets.token_urlsafe(24)


def saved_token(paths: DemoPaths) -> str | None:
    try:
        return paths.token.read_text().strip() or None
    except FileNotFoundError:
        return None


@dataclass
class Demo:
    paths: DemoPaths
    customers: list[dict[str, object]]
    grpc_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    token: str = field(default_factory=new_token)
    collector: ManagedProcess | None = None
    agent: ManagedProcess | None = None
    local_agent_id: str = "demo-local-agent"
    serving: bool = False  # kept running (`patrol demo --serve`) rather than a scripted run that stops

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
            self.paths.fleet.unlink(missing_ok=True)
        for p in (root, self.paths.data, self.paths.logs, self.paths.reports):
            p.mkdir(parents=True, exist_ok=True)
        # The key pair the collector signs diagnostic requests with; created before the agent's config
        # is written, so the agent pins it from its first start.
        from collector.diagnostics.signing import Signer

        Signer.load_or_create(self.paths.signing_keys)
        collector_cfg = {
            "data_dir": "data",
            "listen": self.grpc_target,
            "insecure": True,  # loopback only; production uses tls (see deploy/)
            "api": {"listen": f"127.0.0.1:{self.api_port}",
                    "tokens": [{"name": "demo-admin", "role": "admin", "token": self.token}]},
            "customers": self.customers,
            # The simulated fleet backfills months of history through the ingest door.
            "ingest": {"max_age": "400d"},
            # The simulated fleet streams live every 10 s and its silent host stopped long before the
            # end of history, so a short offline limit tells them apart within the scripted run (the
            # tour waits it out once). Anomaly tickets follow how the last hour's live points score,
            # which differs between a slow and a fast run; a serving demo, where time passes, raises them.
            "offline_after": f"{DEMO_OFFLINE_AFTER_S}s",
            "tickets": {"offline": {"enabled": True}, "anomalies": {"enabled": self.serving},
                        "policy_file": DEMO_POLICY_NAME},
            # The provider as its customers see it on every report, and each customer's contract.
            "reports": {"provider": DEMO_PROVIDER,
                        "branding": {"logo": str(root / DEMO_LOGO_NAME), "hotline": "400-820-1234",
                                     "email": "service@patrol-demo.example"},
                        "customers": {str(c["id"]): {"contract": f"SVC-2026-{i + 101:03d}",
                                                     "sla_level": "一级响应 (7×24)" if c["language"] == "zh"
                                                     else "Level 1 response (7×24)",
                                                     "service_window": "7×24 小时" if c["language"] == "zh"
                                                     else "24/7"}
                                      for i, c in enumerate(self.customers)}},
        }
        (root / DEMO_POLICY_NAME).write_text(DEMO_POLICY, encoding="utf-8")
        (root / DEMO_LOGO_NAME).write_text(DEMO_LOGO, encoding="utf-8")
        self.paths.collector_config.write_text(
            "# Written by `patrol demo`: an embedded collector on SQLite, loopback only.\n"
            + yaml.safe_dump(collector_cfg, allow_unicode=True, sort_keys=False))
        self.paths.agent_config.write_text(
            "# Written by `patrol demo`: the real agent, watching this machine.\n"
            + yaml.safe_dump(self._agent_config(), sort_keys=False))
        self.paths.token.write_text(self.token + "\n")
        self.paths.token.chmod(0o600)
        self.write_env()

    def _agent_config(self) -> dict[str, object]:
        return {
            "agent_id": self.local_agent_id,
            "customer": self.customers[0]["id"],
            "collector": self.grpc_target,
            "insecure": True,
            "labels": {"role": "demo", "site": "localhost"},
            "spool": {"dir": str(self.paths.spool)},
            # As a careful customer consents: the demo collector's key is pinned, and only reading
            # actions run — no network probes, logs and directory sizes only where listed.
            "diagnostics": {
                "collector_key": str(self.paths.signing_public_key),
                "actions": {"network_probe": False, "packages": False},
                "log_paths": ["/var/log/*.log", "/var/log/syslog", str(self.paths.logs / "*.log")],
                "du_roots": ["/var", "/tmp", str(self.paths.root)],
                "max_timeout": "60s",
            },
        }

    def write_service_history(self, settings: FleetSettings, end: datetime) -> int:
        """90 days of worked tickets for the simulated fleet, written before the collector starts;
        returns how many. The reports' ticket, SLA and satisfaction sections then have a quarter to show."""
        from collector.app import sync_customers
        from collector.config import load_collector_config
        from collector.simulator import FleetSpec, build_fleet
        from collector.simulator.service_history import write_service_history
        from collector.store.engine import open_engine
        from collector.tickets.service import TicketService

        cfg = load_collector_config(self.paths.collector_config)
        engine = open_engine(f"sqlite:///{self.paths.database}")
        try:
            sync_customers(engine, cfg)
            fleet = build_fleet(FleetSpec(agents=settings.agents, customers=settings.customers, seed=settings.seed))
            customers = {c.id: c for c in cfg.customers}
            worked = write_service_history(
                lambda clock: TicketService(engine, cfg.section("tickets"), customers, clock), fleet, end,
                seed=settings.seed)
        finally:
            engine.dispose()
        return len(worked)

    def write_env(self) -> None:
        """``source demo-data/env`` points the ``patrol`` CLI at this demo (PATROL_URL and PATROL_TOKEN)."""
        self.paths.env.write_text(
            "# Written by `patrol demo`: source it to point the patrol CLI at the demo collector.\n"
            f"export PATROL_URL={shlex.quote(self.api_url)}\n"
            f"export PATROL_TOKEN={shlex.quote(self.token)}\n")
        self.paths.env.chmod(0o600)

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


@dataclass(frozen=True)
class ConsoleLogin:
    """A login of the web console that the demo creates and prints."""

    username: str
    password: str
    role: str
    customer: str | None = None
    language: str = "zh"


def console_logins(paths: DemoPaths, customers: list[dict[str, object]]) -> list[ConsoleLogin]:
    """An engineer and a customer login (of the first customer), with passwords kept in the data
    folder so a reused demo keeps them."""
    file = paths.root / "console-logins.json"
    try:
        return [ConsoleLogin(**item) for item in json.loads(file.read_text())]
    except (FileNotFoundError, ValueError, TypeError):
        pass
    first = customers[0]
    logins = [ConsoleLogin("engineer", secrets.token_urlsafe(9), "engineer", None, "zh"),
              ConsoleLogin("customer", secrets.token_urlsafe(9), "customer", str(first["id"]),
                           str(first.get("language") or "zh"))]
    file.write_text(json.dumps([login.__dict__ for login in logins], indent=2) + "\n")
    file.chmod(0o600)
    return logins


def create_console_logins(api_url: str, token: str, logins: list[ConsoleLogin]) -> None:
    """Create the logins through the API (those that exist already are left as they are)."""
    import httpx

    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for login in logins:
            r = http.post("/api/v1/console/users", json={
                "username": login.username, "password": login.password, "role": login.role,
                "customer": login.customer, "language": login.language})
            if r.status_code >= 400 and "exists already" not in r.text:
                raise RuntimeError(f"creating the console login {login.username}: {r.status_code} {r.text}")


def console_lines(api_url: str, logins: list[ConsoleLogin]) -> list[str]:
    """What the demo prints about the web console: its URL and the logins."""
    out = [f"web console  {api_url}/"]
    for login in logins:
        who = f"customer {login.customer}" if login.customer else login.role
        out.append(f"  {who:<22} user {login.username}  password {login.password}")
    return out
