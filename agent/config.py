"""The agent's configuration (``agent.yaml``).

Everything that touches the customer's machine is decided here, on the customer's side: what is
collected, where the spool lives and how large it may grow.

The schema is frozen dataclasses (see :mod:`agent.configtypes`). :func:`load_agent_config`, which
the agent uses, validates the file with pydantic in a short-lived child process and receives the
validated configuration back, so the agent never loads pydantic or PyYAML;
:func:`validate_agent_config` and :func:`load_agent_config_in_process` validate in this process.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge, Le

from agent.configfile import ConfigError, format_validation_error, read_mapping
from agent.configtypes import After, Bytes, Seconds, Section
from agent.diagnostics.config import DiagnosticsConfig
from agent.logs.config import LogsConfig
from agent.probes.config import ProbesConfig

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _identifier(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("must be 1-128 characters of letters, digits, '.', '_', ':' or '-'")
    return value


def _address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return value


def _level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return value.upper()


Identifier = Annotated[str, After(_identifier)]


@dataclass(frozen=True, kw_only=True)
class SpoolConfig(Section):
    dir: Path = Path("/var/lib/patrol-agent/spool")
    max_bytes: Bytes = 256 * 2**20
    max_age: Seconds = 7 * 86400.0
    segment_bytes: Bytes = 4 * 2**20
    fsync: bool = True


@dataclass(frozen=True, kw_only=True)
class TransportConfig(Section):
    backoff_initial: Seconds = 1.0
    backoff_max: Seconds = 60.0
    keepalive: Seconds = 30.0
    keepalive_timeout: Seconds = 10.0
    heartbeat: Seconds = 30.0
    window: Annotated[int, Ge(1), Le(4096)] = 64  # batches in flight before waiting for acks
    max_message_bytes: Bytes = 4 * 2**20
    connect_timeout: Seconds = 10.0


@dataclass(frozen=True, kw_only=True)
class TlsConfig(Section):
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentConfig(Section):
    agent_id: Identifier | None = None  # stable host id; defaults to the machine id or hostname
    customer: Identifier
    collector: Annotated[str, After(_address)]  # host:port of the collector's gRPC endpoint
    hostname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    batch_interval: Seconds = 10.0
    facts_interval: Seconds = 600.0
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    transport: TransportConfig = field(default_factory=TransportConfig)
    tls: TlsConfig | None = None
    insecure: bool = False  # plaintext gRPC; only for the embedded demo and loopback tests
    collectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: LogsConfig = field(default_factory=LogsConfig)
    log_poll_interval: Seconds = 1.0
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    log_level: Annotated[str, After(_level)] = "INFO"
    trace_file: Path | None = None  # append 'seq count value_sum' for every spooled batch (verifies delivery)

    def resolved_hostname(self) -> str:
        return self.hostname or socket.gethostname()

    def resolved_agent_id(self) -> str:
        return self.agent_id or machine_agent_id(self.hostname)


def machine_agent_id(hostname: str | None = None) -> str:
    """The agent id used when agent.yaml sets none: hostname and the machine id, else the hostname."""
    host = hostname or socket.gethostname()
    for p in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        try:
            mid = p.read_text().strip()
        except OSError:
            continue
        if mid:
            return f"{host}-{mid[:12]}"
    return host


def validate_agent_config(data: Mapping[str, Any], source: Path | str = "<data>", *,
                          config_dir: Path | None = None) -> AgentConfig:
    """``data`` (agent.yaml's mapping) validated in this process, which imports pydantic.

    With ``config_dir``, relative paths are taken from that directory (as for a file there) and the
    log state directory gets its default; without it, paths are kept as written and relative paths
    in the probe and diagnostics sections are refused. Raises :class:`ConfigError` naming
    ``source`` and the field.
    """
    from pydantic import ValidationError

    from agent.configfile import validate

    context = {"config_dir": config_dir} if config_dir is not None else None
    try:
        cfg = validate(AgentConfig, dict(data), context=context)
    except ValidationError as e:
        raise ConfigError(format_validation_error(source, e)) from None
    return _resolve_paths(cfg, config_dir) if config_dir is not None else cfg


def _resolve_paths(cfg: AgentConfig, base: Path) -> AgentConfig:
    spool = cfg.spool
    if not spool.dir.is_absolute():
        spool = dataclasses.replace(spool, dir=(base / spool.dir).resolve())
    trace_file = cfg.trace_file
    if trace_file is not None and not trace_file.is_absolute():
        trace_file = (base / trace_file).resolve()
    state_dir = cfg.logs.state_dir
    if state_dir is None:
        state_dir = spool.dir.parent / f"{spool.dir.name}-log-state"
    elif not state_dir.is_absolute():
        state_dir = (base / state_dir).resolve()
    return dataclasses.replace(cfg, spool=spool, trace_file=trace_file,
                               logs=dataclasses.replace(cfg.logs, state_dir=state_dir))


def load_agent_config_in_process(path: Path | str) -> AgentConfig:
    """agent.yaml at ``path``, validated in this process (which imports pydantic and PyYAML).

    With logs enabled, the rule packs it names are loaded and validated too, and travel with the
    configuration (``logs.rules.loaded``). Raises :class:`ConfigError` naming the file and field.
    """
    from agent.logs.rules import RulePackError, load_rule_specs

    p = Path(path)
    cfg = validate_agent_config(read_mapping(p), p, config_dir=p.resolve().parent)
    if cfg.logs.enabled:
        rules = cfg.logs.rules
        try:
            specs = load_rule_specs(rules.packs, include_default=rules.default)
        except RulePackError as e:
            raise ConfigError(str(e)) from None
        cfg = dataclasses.replace(cfg, logs=dataclasses.replace(cfg.logs, rules=rules.with_loaded(specs)))
    return cfg


def load_agent_config(path: Path | str) -> AgentConfig:
    """agent.yaml at ``path``, validated in a short-lived child process (see :mod:`agent.configcheck`).

    Same result and errors as :func:`load_agent_config_in_process`, but pydantic and PyYAML are
    never imported into this process. Raises :class:`ConfigError` naming the file and field.
    """
    from agent.configcheck import check_in_child

    return check_in_child(path)
