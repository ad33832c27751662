"""The agent's configuration (``agent.yaml``), validated with pydantic.

Everything that touches the customer's machine is decided here, on the customer's side: what is
collected, where the spool lives and how large it may grow.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from agent.configfile import load_model, parse_duration, parse_size
from agent.diagnostics.config import DiagnosticsConfig
from agent.logs.config import LogsConfig
from agent.probes.config import ProbesConfig

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpoolConfig(_Strict):
    dir: Path = Path("/var/lib/patrol-agent/spool")
    max_bytes: Bytes = 256 * 2**20
    max_age: Seconds = 7 * 86400.0
    segment_bytes: Bytes = 4 * 2**20
    fsync: bool = True


class TransportConfig(_Strict):
    backoff_initial: Seconds = 1.0
    backoff_max: Seconds = 60.0
    keepalive: Seconds = 30.0
    keepalive_timeout: Seconds = 10.0
    heartbeat: Seconds = 30.0
    window: int = Field(64, ge=1, le=4096, description="batches in flight before waiting for acks")
    max_message_bytes: Bytes = 4 * 2**20
    connect_timeout: Seconds = 10.0


class TlsConfig(_Strict):
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None


class AgentConfig(_Strict):
    agent_id: str | None = Field(None, description="stable host id; defaults to the machine id or hostname")
    customer: str
    collector: str = Field(..., description="host:port of the collector's gRPC endpoint")
    hostname: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    batch_interval: Seconds = 10.0
    facts_interval: Seconds = 600.0
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    transport: TransportConfig = Field(default_factory=TransportConfig)
    tls: TlsConfig | None = None
    insecure: bool = Field(False, description="plaintext gRPC; only for the embedded demo and loopback tests")
    collectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    log_poll_interval: Seconds = 1.0
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    log_level: str = "INFO"
    trace_file: Path | None = Field(
        None, description="append 'seq count value_sum' for every spooled batch (for verifying delivery)")

    @field_validator("agent_id", "customer")
    @classmethod
    def _ident(cls, v: str | None) -> str | None:
        if v is not None and not _ID.match(v):
            raise ValueError("must be 1-128 characters of letters, digits, '.', '_', ':' or '-'")
        return v

    @field_validator("collector")
    @classmethod
    def _address(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, got {v!r}")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return v.upper()

    def resolved_hostname(self) -> str:
        return self.hostname or socket.gethostname()

    def resolved_agent_id(self) -> str:
        if self.agent_id:
            return self.agent_id
        for p in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
            try:
                mid = p.read_text().strip()
            except OSError:
                continue
            if mid:
                return f"{self.resolved_hostname()}-{mid[:12]}"
        return self.resolved_hostname()


def load_agent_config(path: Path | str) -> AgentConfig:
    cfg = load_model(path, AgentConfig)
    base = Path(path).resolve().parent
    if not cfg.spool.dir.is_absolute():
        cfg.spool.dir = (base / cfg.spool.dir).resolve()
    if cfg.trace_file is not None and not cfg.trace_file.is_absolute():
        cfg.trace_file = (base / cfg.trace_file).resolve()
    if cfg.logs.state_dir is None:
        cfg.logs.state_dir = cfg.spool.dir.parent / f"{cfg.spool.dir.name}-log-state"
    elif not cfg.logs.state_dir.is_absolute():
        cfg.logs.state_dir = (base / cfg.logs.state_dir).resolve()
    return cfg
