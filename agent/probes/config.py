"""The ``probes:`` section of ``agent.yaml``: what the agent checks locally for the inspections.

```yaml
probes:
  timeout: 5s                      # network probes and systemctl; per-entry `timeout` overrides it
  processes: [nginx, {name: app, cmdline: 'java .*-jar app\\.jar'}]   # single quotes: regex as written
  ports: [22, 443]
  http: [{url: "https://127.0.0.1/health", expect_status: 200, ca_file: /etc/ssl/internal-ca.pem}]
  tcp: ["db.internal:5432"]
  tls: [/etc/nginx/tls/site.pem, "shop.example.com:443"]
  backups: [{path: /backup/db, glob: "*.sql.gz", recursive: false}]
  ntp: {server: ntp.aliyun.com}
  systemd_units: [nginx, app.service]
  intervals: {tls: 1h, backups: 15m}
```

Each entry's *label* (the process probe's name, the port, the URL, the target, the path, the unit)
is what the inspections match a customer's expectations against, so labels must be unique within
a list. Paths that become labels are absolute; relative ones are resolved against the directory of
``agent.yaml``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.configfile import parse_duration
from agent.probes.targets import parse_host_port

DEFAULT_TIMEOUT = 5.0
# Longest interval per probe kind: the inspections treat probe data older than this as stale
# (profile default 30 min, backups 3 h, certificates 25 h; see docs/inspections.md).
MAX_INTERVALS: dict[str, float] = {
    "processes": 1800.0,
    "ports": 1800.0,
    "http": 1800.0,
    "tcp": 1800.0,
    "systemd_units": 1800.0,
    "ntp": 1800.0,
    "tls": 25 * 3600.0,
    "backups": 3 * 3600.0,
}


def _not_bool(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise pass as the number 1.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Timeout = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=60)]
Port = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=65535)]


def _regex(value: str | None) -> str | None:
    if value is None:
        return None
    if not value:
        raise ValueError("expected a regular expression, got an empty string")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


def _absolute(path: Path, info: ValidationInfo) -> Path:
    if path.is_absolute():
        return Path(os.path.normpath(path))
    base = (info.context or {}).get("config_dir")
    if base is None:
        raise ValueError(f"expected an absolute path, got {str(path)!r}")
    # normpath, not resolve(): the label keeps the path as the operator wrote it, symlinks included.
    return Path(os.path.normpath(Path(base) / path))


def _host_port(value: str) -> str:
    parse_host_port(value)
    return value.strip()


def _unit(value: str) -> str:
    if not value or any(c.isspace() for c in value) or value.startswith("-"):
        raise ValueError(f"expected a systemd unit name such as nginx or app.service, got {value!r}")
    return value


HostPortText = Annotated[str, AfterValidator(_host_port)]
UnitName = Annotated[str, AfterValidator(_unit)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProcessProbeConfig(_Strict):
    """Processes counted by exact name, by a regex over the name and/or by a regex over the command line.

    ``pattern`` and ``cmdline`` are searched (like ``pgrep`` and ``pgrep -f``); with both, a
    process must match both. Without either, the process name must equal ``name``. The series'
    ``name`` label is ``name``, or the command-line pattern, or the name pattern.
    """

    name: str | None = None
    pattern: str | None = None
    cmdline: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("pattern", "cmdline")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        return _regex(value)

    @model_validator(mode="after")
    def _something_to_match(self) -> ProcessProbeConfig:
        if not (self.name or self.pattern or self.cmdline):
            raise ValueError("give a process name, a name pattern or a cmdline pattern")
        return self

    @property
    def label(self) -> str:
        return self.name or self.cmdline or self.pattern or ""


class HttpProbeConfig(_Strict):
    """A GET that must answer ``expect_status``; redirects are not followed (a 301 is the answer)."""

    url: str
    expect_status: int = Field(200, ge=100, le=599)
    timeout: Timeout | None = None
    ca_file: Path | None = None
    insecure: bool = Field(False, description="accept any certificate (self-signed, expired, wrong name)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
        try:
            parts.port  # noqa: B018 - raises on a port out of range or not a number
        except ValueError:
            raise ValueError(f"the port of {value!r} is not a number from 1 to 65535") from None
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _absolute(value, info)

    @model_validator(mode="after")
    def _tls_options_need_https(self) -> HttpProbeConfig:
        if urlsplit(self.url).scheme != "https" and (self.ca_file is not None or self.insecure):
            raise ValueError(f"ca_file and insecure only apply to https:// URLs, not {self.url!r}")
        if self.ca_file is not None and self.insecure:
            raise ValueError("give either ca_file (verify against this CA) or insecure: true, not both")
        return self

    @property
    def label(self) -> str:
        return self.url


class TlsProbeConfig(_Strict):
    """A certificate to watch: a PEM (or DER) file, or the certificate a ``host:port`` endpoint presents."""

    file: Path | None = None
    endpoint: HostPortText | None = None
    server_name: str | None = Field(None, description="SNI name to send; default: the endpoint's host")
    timeout: Timeout | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"file": value} if value.startswith(("/", ".", "~")) else {"endpoint": value}
        return value

    @field_validator("file")
    @classmethod
    def _file_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _absolute(value.expanduser(), info)

    @model_validator(mode="after")
    def _one_target(self) -> TlsProbeConfig:
        if (self.file is None) == (self.endpoint is None):
            raise ValueError("give exactly one of file (a certificate path) or endpoint (host:port)")
        if self.file is not None and (self.server_name is not None or self.timeout is not None):
            raise ValueError("server_name and timeout only apply to an endpoint, not to a file")
        return self

    @property
    def label(self) -> str:
        return str(self.file) if self.file is not None else str(self.endpoint)


class BackupProbeConfig(_Strict):
    """The newest and previous file (by modification time) under ``path`` whose name matches ``glob``."""

    path: Path
    glob: str = Field("*", min_length=1, description="matched against file names, not paths")
    recursive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _dir_path(cls, value: Path, info: ValidationInfo) -> Path:
        return _absolute(value.expanduser(), info)

    @field_validator("glob")
    @classmethod
    def _name_glob(cls, value: str) -> str:
        if "/" in value:
            raise ValueError(f"glob matches file names, not paths: use recursive: true instead of {value!r}")
        return value

    @property
    def label(self) -> str:
        return str(self.path)


class NtpProbeConfig(_Strict):
    """An SNTP server to measure the clock offset against; no server, no probe."""

    server: str | None = None
    port: Port = 123
    timeout: Timeout | None = None

    @field_validator("server")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"expected a host name or address such as ntp.aliyun.com, got {value!r}")
        if ":" in value:
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                raise ValueError(f"give the port in ntp.port, not in the server name {value!r}") from None
        return value


class ProbeIntervals(_Strict):
    """Seconds (or ``30s``, ``5m``, ``1h``) between two runs of each probe kind."""

    processes: Seconds = 60.0
    ports: Seconds = 60.0
    http: Seconds = 60.0
    tcp: Seconds = 60.0
    systemd_units: Seconds = 60.0
    ntp: Seconds = 300.0
    tls: Seconds = 3600.0
    backups: Seconds = 900.0

    @field_validator("*")
    @classmethod
    def _fresh_enough(cls, value: float, info: ValidationInfo) -> float:
        limit = MAX_INTERVALS[str(info.field_name)]
        if value > limit:
            raise ValueError(
                f"at most {limit:g} s: the inspections treat {info.field_name} probe data older than that "
                "as stale and would report unknown"
            )
        return value


class ProbesConfig(_Strict):
    timeout: Timeout = DEFAULT_TIMEOUT
    processes: list[ProcessProbeConfig] = Field(default_factory=list)
    ports: list[Port] = Field(default_factory=list)
    http: list[HttpProbeConfig] = Field(default_factory=list)
    tcp: list[HostPortText] = Field(default_factory=list)
    tls: list[TlsProbeConfig] = Field(default_factory=list)
    backups: list[BackupProbeConfig] = Field(default_factory=list)
    ntp: NtpProbeConfig = Field(default_factory=NtpProbeConfig)
    systemd_units: list[UnitName] = Field(default_factory=list)
    intervals: ProbeIntervals = Field(default_factory=ProbeIntervals)

    @model_validator(mode="after")
    def _unique_labels(self) -> ProbesConfig:
        lists: dict[str, list[str]] = {
            "processes": [p.label for p in self.processes],
            "ports": [str(p) for p in self.ports],
            "http": [h.label for h in self.http],
            "tcp": list(self.tcp),
            "tls": [t.label for t in self.tls],
            "backups": [b.label for b in self.backups],
            "systemd_units": list(self.systemd_units),
        }
        problems = []
        for field, labels in lists.items():
            repeated = [label for label, n in Counter(labels).items() if n > 1]
            if repeated:
                problems.append(f"{field}: {', '.join(map(repr, repeated))} listed more than once")
        if problems:
            raise ValueError(
                "each probe's label must be unique within its list, since the inspections match on it: "
                + "; ".join(problems)
            )
        return self
