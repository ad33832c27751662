"""The ``ssh:`` section of ``collector.yaml``: hosts inspected over SSH, without an agent.

```yaml
ssh:
  defaults: {user: patrol, key_file: ssh/id_ed25519, known_hosts: ssh/known_hosts, interval: 60s}
  targets:
    - host_id: db-01
      customer: acme
      address: 10.0.0.5
      labels: {role: db}
```

Everything in ``defaults`` applies to every target that does not set the field itself. Relative
paths are resolved against the configuration file's folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from agent.configfile import parse_duration, parse_size

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]

HOST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# A DNS name, an IPv4 address or an IPv6 address (without brackets). The address goes to a socket,
# never to a shell, but a leading '-' or whitespace is always a mistake worth naming.
_ADDRESS = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}\$?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Paths the disk-usage diagnostic may be asked about: absolute, no '..', only characters that need
# no quoting in a POSIX shell (the remote side runs the command line through the login shell).
SAFE_PATH = re.compile(r"^/(?:[A-Za-z0-9._@+-]+(?:/[A-Za-z0-9._@+-]+)*)?/?$")
DEFAULT_DU_PATHS = ("/", "/var", "/var/log", "/home", "/opt", "/srv", "/tmp")


def _resolve(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("config_dir")
    if not value.is_absolute() and base is not None:
        return (Path(base) / value).resolve()
    return value


class SshTarget(BaseModel):
    """One host inspected over SSH."""

    model_config = ConfigDict(extra="forbid")

    host_id: str = Field(description="the host's id in Patrol, like an agent's agent_id")
    customer: str
    address: str = Field(description="DNS name or IP address to connect to")
    port: int = Field(22, ge=1, le=65535)
    user: str
    key_file: Path = Field(description="private key (OpenSSH or PEM format)")
    key_passphrase_env: str | None = Field(None, description="environment variable holding the key's passphrase")
    known_hosts: Path = Field(description="known_hosts file with the target's host key")
    strict_known_hosts: bool = Field(
        True, description="refuse hosts missing from known_hosts; false accepts and records a NEW host's key "
        "(like OpenSSH's accept-new), a CHANGED key is refused either way")
    interval: Seconds = 60.0
    timeout: Seconds = Field(10.0, description="TCP connect, SSH handshake and authentication")
    command_timeout: Seconds = 10.0
    max_output: Bytes = Field(4 * 2**20, description="per command; longer output is cut and marked truncated")
    sessions: int = Field(4, ge=1, le=10, description="commands run at once on the connection (sshd's MaxSessions "
                          "is 10 by default)")
    labels: dict[str, str] = Field(default_factory=dict)
    du_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_DU_PATHS),
                                description="directories the disk-usage diagnostic may inspect")

    @field_validator("host_id")
    @classmethod
    def _host_id(cls, v: str) -> str:
        if not HOST_ID.match(v):
            raise ValueError("must be 1-128 characters of letters, digits, '.', '_', ':' or '-', "
                             "starting with a letter or digit")
        return v

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        if not _ADDRESS.match(v) or v.startswith("-"):
            raise ValueError(f"{v!r} is not a host name or IP address (IPv6 without brackets, e.g. fd00::5)")
        return v

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        if not _USER.match(v):
            raise ValueError(f"{v!r} is not a valid login name")
        return v

    @field_validator("key_passphrase_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError(f"{v!r} is not an environment variable name (put the passphrase in the "
                             "environment and name the variable here, never the passphrase itself)")
        return v

    @field_validator("key_file", "known_hosts")
    @classmethod
    def _path(cls, v: Path, info: ValidationInfo) -> Path:
        return _resolve(v, info)

    @field_validator("du_paths")
    @classmethod
    def _du_paths(cls, v: list[str]) -> list[str]:
        for path in v:
            if not SAFE_PATH.match(path) or "/../" in f"{path}/" or "/./" in f"{path}/":
                raise ValueError(f"{path!r} must be an absolute, normalised path of letters, digits and "
                                 "'._@+-' (no spaces, quotes or '..')")
        return [p.rstrip("/") or "/" for p in v]

    @model_validator(mode="after")
    def _key_file_exists(self) -> SshTarget:
        if not self.key_file.is_file():
            raise ValueError(f"key_file {self.key_file} does not exist or is not a file "
                             "(create one with ssh-keygen -t ed25519 -f <path> and authorize its .pub on the host)")
        if self.strict_known_hosts and not self.known_hosts.is_file():
            raise ValueError(f"known_hosts {self.known_hosts} does not exist; with strict_known_hosts every "
                             "target's host key must be in it (ssh-keyscan -p PORT ADDRESS, then verify the "
                             "fingerprint out of band), or set strict_known_hosts: false to accept new hosts")
        return self

    @property
    def endpoint(self) -> str:
        """``address:port`` as known_hosts and messages write it (``[fd00::5]:22`` for IPv6)."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


class SshConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict, description="fields applied to every target")
    targets: list[SshTarget] = Field(default_factory=list)
    max_concurrency: int = Field(16, ge=1, le=512, description="targets polled at the same time")
    facts_interval: Seconds = Field(3600.0, description="how often the inventory (facts) is refreshed")
    startup_spread: float = Field(5.0, ge=0, description="first polls are spread over this many seconds")

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        targets = data.get("targets")
        if not isinstance(defaults, dict) or not isinstance(targets, list):
            return data
        if "host_id" in defaults or "address" in defaults:
            raise ValueError("defaults may not set host_id or address: they identify a single target")
        merged = [{**defaults, **t} if isinstance(t, dict) else t for t in targets]
        return {**data, "targets": merged}

    @field_validator("defaults")
    @classmethod
    def _known_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(SshTarget.model_fields))
        if unknown:
            raise ValueError(f"unknown target field(s) {', '.join(unknown)}")
        return v

    @model_validator(mode="after")
    def _unique(self) -> SshConfig:
        seen: set[str] = set()
        for i, t in enumerate(self.targets):
            if t.host_id in seen:
                raise ValueError(f"targets.{i}.host_id {t.host_id!r} is used by an earlier target")
            seen.add(t.host_id)
        return self

    def target(self, host_id: str) -> SshTarget | None:
        return next((t for t in self.targets if t.host_id == host_id), None)
