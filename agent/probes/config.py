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
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from annotated_types import Ge, Gt, Le, MinLen

from agent.configfile import parse_duration
from agent.configtypes import After, AfterWithContext, Before, Section, not_bool, relative_to_config
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


def _host_port(value: str) -> str:
    parse_host_port(value)
    return value.strip()


def _unit(value: str) -> str:
    if not value or any(c.isspace() for c in value) or value.startswith("-"):
        raise ValueError(f"expected a systemd unit name such as nginx or app.service, got {value!r}")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        raise ValueError(f"the port of {value!r} is not a number from 1 to 65535") from None
    return value


def _expanded_path(value: Path, context: Mapping[str, Any]) -> Path:
    return relative_to_config(value.expanduser(), context)


def _name_glob(value: str) -> str:
    if "/" in value:
        raise ValueError(f"glob matches file names, not paths: use recursive: true instead of {value!r}")
    return value


def _ntp_host(value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"expected a host name or address such as ntp.aliyun.com, got {value!r}")
    if ":" in value:
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            raise ValueError(f"give the port in ntp.port, not in the server name {value!r}") from None
    return value


class _FreshEnough:
    """An interval no longer than the inspections' staleness limit for that probe kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, value: float) -> float:
        limit = MAX_INTERVALS[self.kind]
        if value > limit:
            raise ValueError(
                f"at most {limit:g} s: the inspections treat {self.kind} probe data older than that "
                "as stale and would report unknown"
            )
        return value


Seconds = Annotated[float, Before(parse_duration), Gt(0)]
Timeout = Annotated[float, Before(parse_duration), Gt(0), Le(60)]
Port = Annotated[int, Before(not_bool), Ge(1), Le(65535)]
Regex = Annotated[str, After(_regex)]
HostPortText = Annotated[str, After(_host_port)]
UnitName = Annotated[str, After(_unit)]
ConfigPath = Annotated[Path, AfterWithContext(relative_to_config)]
UserPath = Annotated[Path, AfterWithContext(_expanded_path)]  # ~ allowed


@dataclass(frozen=True, kw_only=True)
class ProcessProbeConfig(Section):
    """Processes counted by exact name, by a regex over the name and/or by a regex over the command line.

    ``pattern`` and ``cmdline`` are searched (like ``pgrep`` and ``pgrep -f``); with both, a
    process must match both. Without either, the process name must equal ``name``. The series'
    ``name`` label is ``name``, or the command-line pattern, or the name pattern.
    """

    name: str | None = None
    pattern: Regex | None = None
    cmdline: Regex | None = None

    @classmethod
    def from_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def __post_init__(self) -> None:
        if not (self.name or self.pattern or self.cmdline):
            raise ValueError("give a process name, a name pattern or a cmdline pattern")

    @property
    def label(self) -> str:
        return self.name or self.cmdline or self.pattern or ""


@dataclass(frozen=True, kw_only=True)
class HttpProbeConfig(Section):
    """A GET that must answer ``expect_status``; redirects are not followed (a 301 is the answer)."""

    url: Annotated[str, After(_http_url)]
    expect_status: Annotated[int, Ge(100), Le(599)] = 200
    timeout: Timeout | None = None
    ca_file: ConfigPath | None = None
    insecure: bool = False  # accept any certificate (self-signed, expired, wrong name)

    @classmethod
    def from_shorthand(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme != "https" and (self.ca_file is not None or self.insecure):
            raise ValueError(f"ca_file and insecure only apply to https:// URLs, not {self.url!r}")
        if self.ca_file is not None and self.insecure:
            raise ValueError("give either ca_file (verify against this CA) or insecure: true, not both")

    @property
    def label(self) -> str:
        return self.url


@dataclass(frozen=True, kw_only=True)
class TlsProbeConfig(Section):
    """A certificate to watch: a PEM (or DER) file, or the certificate a ``host:port`` endpoint presents."""

    file: UserPath | None = None
    endpoint: HostPortText | None = None
    server_name: str | None = None  # SNI name to send; default: the endpoint's host
    timeout: Timeout | None = None

    @classmethod
    def from_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"file": value} if value.startswith(("/", ".", "~")) else {"endpoint": value}
        return value

    def __post_init__(self) -> None:
        if (self.file is None) == (self.endpoint is None):
            raise ValueError("give exactly one of file (a certificate path) or endpoint (host:port)")
        if self.file is not None and (self.server_name is not None or self.timeout is not None):
            raise ValueError("server_name and timeout only apply to an endpoint, not to a file")

    @property
    def label(self) -> str:
        return str(self.file) if self.file is not None else str(self.endpoint)


@dataclass(frozen=True, kw_only=True)
class BackupProbeConfig(Section):
    """The newest and previous file (by modification time) under ``path`` whose name matches ``glob``."""

    path: UserPath
    glob: Annotated[str, MinLen(1), After(_name_glob)] = "*"  # matched against file names, not paths
    recursive: bool = False

    @classmethod
    def from_shorthand(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @property
    def label(self) -> str:
        return str(self.path)


@dataclass(frozen=True, kw_only=True)
class NtpProbeConfig(Section):
    """An SNTP server to measure the clock offset against; no server, no probe."""

    server: Annotated[str, After(_ntp_host)] | None = None
    port: Port = 123
    timeout: Timeout | None = None


@dataclass(frozen=True, kw_only=True)
class ProbeIntervals(Section):
    """Seconds (or ``30s``, ``5m``, ``1h``) between two runs of each probe kind."""

    processes: Annotated[Seconds, After(_FreshEnough("processes"))] = 60.0
    ports: Annotated[Seconds, After(_FreshEnough("ports"))] = 60.0
    http: Annotated[Seconds, After(_FreshEnough("http"))] = 60.0
    tcp: Annotated[Seconds, After(_FreshEnough("tcp"))] = 60.0
    systemd_units: Annotated[Seconds, After(_FreshEnough("systemd_units"))] = 60.0
    ntp: Annotated[Seconds, After(_FreshEnough("ntp"))] = 300.0
    tls: Annotated[Seconds, After(_FreshEnough("tls"))] = 3600.0
    backups: Annotated[Seconds, After(_FreshEnough("backups"))] = 900.0


@dataclass(frozen=True, kw_only=True)
class ProbesConfig(Section):
    timeout: Timeout = DEFAULT_TIMEOUT
    processes: list[ProcessProbeConfig] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    http: list[HttpProbeConfig] = field(default_factory=list)
    tcp: list[HostPortText] = field(default_factory=list)
    tls: list[TlsProbeConfig] = field(default_factory=list)
    backups: list[BackupProbeConfig] = field(default_factory=list)
    ntp: NtpProbeConfig = field(default_factory=NtpProbeConfig)
    systemd_units: list[UnitName] = field(default_factory=list)
    intervals: ProbeIntervals = field(default_factory=ProbeIntervals)

    def __post_init__(self) -> None:
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
        for kind, labels in lists.items():
            repeated = [label for label, n in Counter(labels).items() if n > 1]
            if repeated:
                problems.append(f"{kind}: {', '.join(map(repr, repeated))} listed more than once")
        if problems:
            raise ValueError(
                "each probe's label must be unique within its list, since the inspections match on it: "
                + "; ".join(problems)
            )
