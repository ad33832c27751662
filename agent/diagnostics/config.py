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

import os
import re
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from agent.configfile import parse_duration, parse_size

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ARG_VALUE = 256


def _absolute(path: Path, info: ValidationInfo) -> Path:
    if path.is_absolute():
        return Path(os.path.normpath(path))
    base = (info.context or {}).get("config_dir")
    if base is None:
        raise ValueError(f"expected an absolute path, got {str(path)!r}")
    return Path(os.path.normpath(Path(base) / path))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionSwitches(_Strict):
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

    def enabled(self, action: str) -> bool:
        return bool(getattr(self, action, False))


class CommandArg(_Strict):
    """A value the server may fill into a placeholder: it must match ``pattern`` or be one of ``choices``."""

    pattern: str | None = Field(default=None, description="regular expression the whole value must match")
    choices: list[str] | None = None
    default: str | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"{v!r} is not a valid regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _one_rule(self) -> CommandArg:
        if (self.pattern is None) == (self.choices is None):
            raise ValueError("give exactly one of pattern or choices")
        if self.choices is not None and not self.choices:
            raise ValueError("choices must not be empty")
        if self.default is not None and self.problem(self.default):
            raise ValueError(f"default {self.default!r} does not satisfy the rule itself")
        return self

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not acceptable, or None."""
        if len(value) > MAX_ARG_VALUE or "\x00" in value:
            return f"at most {MAX_ARG_VALUE} characters, no NUL"
        if self.choices is not None:
            return None if value in self.choices else f"one of {', '.join(self.choices)}"
        assert self.pattern is not None
        return None if re.fullmatch(self.pattern, value) else f"a value matching {self.pattern!r}"


class OperatorCommand(_Strict):
    """A command the customer allows by name. The argv is fixed; the server may only fill placeholders."""

    argv: list[str] = Field(..., min_length=1)
    description: str = ""
    args: dict[str, CommandArg] = Field(default_factory=dict)
    timeout: Seconds | None = Field(default=None, description="at most this long, whatever the request says")
    max_output: Bytes | None = None

    @model_validator(mode="after")
    def _placeholders(self) -> OperatorCommand:
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
        return self


class DiagnosticsConfig(_Strict):
    enabled: bool = Field(default=True, description="false refuses every request (each is still audited)")
    collector_key: Path | None = Field(
        default=None, description="the collector's Ed25519 public key (PEM); without it every request is refused")
    actions: ActionSwitches = Field(default_factory=ActionSwitches)
    log_paths: list[str] = Field(default_factory=list, description="absolute paths or globs of readable logs")
    du_roots: list[Path] = Field(default_factory=lambda: [Path(p) for p in ("/var", "/srv", "/opt", "/home", "/tmp")])
    journal_units: list[str] = Field(default_factory=list, description="unit name patterns whose journal is shown")
    commands: dict[str, OperatorCommand] = Field(default_factory=dict)
    default_timeout: Seconds = 30.0
    max_timeout: Seconds = 300.0
    default_max_output: Bytes = 2**20
    max_output: Bytes = 16 * 2**20
    chunk_bytes: Annotated[int, BeforeValidator(parse_size), Field(gt=0, le=2**20)] = 32 * 1024
    clock_skew: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = 30.0
    max_request_age: Seconds = 900.0
    max_concurrent: int = Field(default=2, ge=1, le=32)
    state_dir: Path | None = Field(default=None, description="default: 'diagnostics' next to the spool directory")
    audit_log: Path | None = Field(default=None, description="default: audit.jsonl in state_dir")

    @field_validator("collector_key", "state_dir", "audit_log")
    @classmethod
    def _paths(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else _absolute(v, info)

    @field_validator("du_roots")
    @classmethod
    def _roots(cls, v: list[Path]) -> list[Path]:
        for p in v:
            if not p.is_absolute():
                raise ValueError(f"du_roots must be absolute paths, got {str(p)!r}")
        return [Path(os.path.normpath(p)) for p in v]

    @field_validator("log_paths")
    @classmethod
    def _logs(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p.startswith("/") or ".." in PurePosixPath(p).parts:
                raise ValueError(f"log_paths entries must be absolute paths or globs without '..', got {p!r}")
        return [os.path.normpath(p) for p in v]

    @field_validator("commands")
    @classmethod
    def _command_names(cls, v: dict[str, OperatorCommand]) -> dict[str, OperatorCommand]:
        for name in v:
            if not _NAME.match(name):
                raise ValueError(f"command name {name!r} must be lower-case letters, digits and '_' "
                                 "(starting with a letter, at most 64)")
        return v

    @model_validator(mode="after")
    def _limits(self) -> DiagnosticsConfig:
        if self.default_timeout > self.max_timeout:
            raise ValueError("default_timeout is longer than max_timeout")
        if self.default_max_output > self.max_output:
            raise ValueError("default_max_output is larger than max_output")
        return self

    def resolved_state_dir(self, spool_dir: Path) -> Path:
        return self.state_dir or spool_dir.parent / "diagnostics"

    def resolved_audit_log(self, spool_dir: Path) -> Path:
        return self.audit_log or self.resolved_state_dir(spool_dir) / "audit.jsonl"
