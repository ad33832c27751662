"""The ``diagnostics:`` section of agent.yaml: the customer's consent to remote diagnostics.

Nothing runs unless this host pins the collector's public key; then only the actions switched on
here run, with the limits set here. The defaults are a safe, read-only set: metrics, processes,
ports, service status, the agent's own state and the package list. Log files, directory trees,
journals and network probes need the customer to name what may be read or reached.

```yaml
diagnostics:
  collector_key: /etc/patrol-agent/collector-diagnostics.pem   # `patrol diag-key` prints it
  actions: {network_probe: true, packages: false}              # on/off per action
  log_paths: [/var/log/syslog, /var/log/nginx/*.log]           # tail_log and grep_log read only these
  du_roots: [/var, /srv, /home]                                # disk_usage walks only below these
  journal_units: [nginx.service, "app-*.service"]              # service_status shows their journal
  commands:                                                    # operator-defined, fixed argv
    nginx_test: {argv: [/usr/sbin/nginx, -t], timeout: 10s}
    ping:
      argv: [/usr/bin/ping, -c, "{count}", "{host}"]
      args:
        count: {pattern: "[1-9]", default: "3"}
        host: {pattern: "[A-Za-z0-9][A-Za-z0-9.-]{0,252}"}
  default_timeout: 30s        # when the request names none
  max_timeout: 5m             # no request runs longer
  default_max_output: 1MiB
  max_output: 16MiB
  clock_skew: 30s             # tolerated difference between the collector's clock and ours
  max_request_age: 15m        # requests valid for longer than this are refused
  max_concurrent: 2
  state_dir: /var/lib/patrol-agent/diagnostics   # replay cache; audit.jsonl unless audit_log is set
  audit_log: /var/log/patrol-agent/diagnostics-audit.jsonl
```

Relative paths are resolved against the directory of agent.yaml.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated

from annotated_types import Ge, Gt, Le, MinLen

from agent.configfile import parse_duration, parse_size
from agent.configtypes import After, AfterWithContext, Before, Bytes, Seconds, Section, relative_to_config

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ARG_VALUE = 256
DEFAULT_DU_ROOTS = ("/var", "/srv", "/opt", "/home", "/tmp")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"{value!r} is not a valid regular expression: {e}") from None
    return value


def _roots(value: list[Path]) -> list[Path]:
    for p in value:
        if not p.is_absolute():
            raise ValueError(f"du_roots must be absolute paths, got {str(p)!r}")
    return [Path(os.path.normpath(p)) for p in value]


def _log_paths(value: list[str]) -> list[str]:
    for p in value:
        if not p.startswith("/") or ".." in PurePosixPath(p).parts:
            raise ValueError(f"log_paths entries must be absolute paths or globs without '..', got {p!r}")
    return [os.path.normpath(p) for p in value]


def _command_names(value: dict[str, OperatorCommand]) -> dict[str, OperatorCommand]:
    for name in value:
        if not _NAME.match(name):
            raise ValueError(f"command name {name!r} must be lower-case letters, digits and '_' "
                             "(starting with a letter, at most 64)")
    return value


ConfigPath = Annotated[Path, AfterWithContext(relative_to_config)]


@dataclass(frozen=True, kw_only=True)
class ActionSwitches(Section):
    """Which built-in actions may run. Operator commands are allowed by being declared."""

    system_snapshot: bool = True
    top_processes: bool = True
    disk_usage: bool = True
    listening_ports: bool = True
    service_status: bool = True
    agent_state: bool = True
    packages: bool = True
    tail_log: bool = True
    grep_log: bool = True
    # Off by default: it makes connections from inside the customer's network, not just reads.
    network_probe: bool = False

    @classmethod
    def names(cls) -> list[str]:
        """The actions that have a switch."""
        return [f.name for f in dataclasses.fields(cls)]

    def enabled(self, action: str) -> bool:
        return bool(getattr(self, action, False))


@dataclass(frozen=True, kw_only=True)
class CommandArg(Section):
    """A value the server may fill into a placeholder: it must match ``pattern`` or be one of ``choices``."""

    pattern: Annotated[str, After(_regex)] | None = None  # regular expression the whole value must match
    choices: list[str] | None = None
    default: str | None = None

    def __post_init__(self) -> None:
        if (self.pattern is None) == (self.choices is None):
            raise ValueError("give exactly one of pattern or choices")
        if self.choices is not None and not self.choices:
            raise ValueError("choices must not be empty")
        if self.default is not None and self.problem(self.default):
            raise ValueError(f"default {self.default!r} does not satisfy the rule itself")

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if len(value) > MAX_ARG_VALUE or "\x00" in value:
            return f"at most {MAX_ARG_VALUE} characters, no NUL"
        if self.choices is not None:
            return None if value in self.choices else f"one of {', '.join(self.choices)}"
        assert self.pattern is not None
        return None if re.fullmatch(self.pattern, value) else f"a value matching {self.pattern!r}"


@dataclass(frozen=True, kw_only=True)
class OperatorCommand(Section):
    """A command the customer allows by name. The argv is fixed; the server may only fill placeholders."""

    argv: Annotated[list[str], MinLen(1)]
    description: str = ""
    args: dict[str, CommandArg] = field(default_factory=dict)
    timeout: Seconds | None = None  # at most this long, whatever the request says
    max_output: Bytes | None = None

    def __post_init__(self) -> None:
        if PLACEHOLDER.search(self.argv[0]):
            raise ValueError("the program (argv[0]) is fixed: it cannot contain a placeholder")
        used = {m.group(1) for part in self.argv for m in PLACEHOLDER.finditer(part)}
        undeclared = sorted(used - set(self.args))
        if undeclared:
            raise ValueError(f"placeholder(s) {', '.join(undeclared)} used in argv but not declared under args")
        unused = sorted(set(self.args) - used)
        if unused:
            raise ValueError(f"args {', '.join(unused)} declared but not used in argv")
        if "name" in self.args:
            raise ValueError("'name' is reserved (it selects the command); call the placeholder something else")


@dataclass(frozen=True, kw_only=True)
class DiagnosticsConfig(Section):
    enabled: bool = True  # false refuses every request (each is still audited)
    # the collector's Ed25519 public key (PEM); without it every request is refused
    collector_key: ConfigPath | None = None
    actions: ActionSwitches = field(default_factory=ActionSwitches)
    # absolute paths or globs of readable logs
    log_paths: Annotated[list[str], After(_log_paths)] = field(default_factory=list)
    du_roots: Annotated[list[Path], After(_roots)] = field(default_factory=lambda: [Path(p) for p in DEFAULT_DU_ROOTS])
    journal_units: list[str] = field(default_factory=list)  # unit name patterns whose journal is shown
    commands: Annotated[dict[str, OperatorCommand], After(_command_names)] = field(default_factory=dict)
    default_timeout: Seconds = 30.0
    max_timeout: Seconds = 300.0
    default_max_output: Bytes = 2**20
    max_output: Bytes = 16 * 2**20
    chunk_bytes: Annotated[int, Before(parse_size), Gt(0), Le(2**20)] = 32 * 1024
    clock_skew: Annotated[float, Before(parse_duration), Ge(0)] = 30.0
    max_request_age: Seconds = 900.0
    max_concurrent: Annotated[int, Ge(1), Le(32)] = 2
    state_dir: ConfigPath | None = None  # default: 'diagnostics' next to the spool directory
    audit_log: ConfigPath | None = None  # default: audit.jsonl in state_dir

    def __post_init__(self) -> None:
        if self.default_timeout > self.max_timeout:
            raise ValueError("default_timeout is longer than max_timeout")
        if self.default_max_output > self.max_output:
            raise ValueError("default_max_output is larger than max_output")

    def resolved_state_dir(self, spool_dir: Path) -> Path:
        return self.state_dir or spool_dir.parent / "diagnostics"

    def resolved_audit_log(self, spool_dir: Path) -> Path:
        return self.audit_log or self.resolved_state_dir(spool_dir) / "audit.jsonl"
