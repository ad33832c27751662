"""The ``logs:`` section of agent.yaml.

```yaml
logs:
  enabled: true
  files:
    globs: [/var/log/syslog, /var/log/auth.log, /var/log/nginx/*.log]
    exclude: ["*.1"]
    from_beginning: false      # files already there at the first start: read from their end
  journal:
    enabled: true              # quietly off where systemd/journalctl is missing
    units: []                  # only these units; empty = everything
  rules:
    default: true              # the built-in pack (agent/logs/default_rules.yaml)
    packs: [/etc/patrol/rules/site.yaml]   # loaded after it; may override or disable its rules
  rate_limit: {burst: 100, per_second: 10}   # per rule
  max_line_bytes: 16384        # longer lines are cut (and counted)
  multiline_timeout_s: 2       # a stack trace with no new line for this long is complete
  rotate_wait_s: 30            # a rotated file is watched this long after its last write
  state_dir: /var/lib/patrol-agent/logs
```

On hosts where rsyslog also writes the journal to ``/var/log/syslog``, following both the journal
and that file sends every message twice: pick one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from annotated_types import Ge, Gt, Le

from agent.configtypes import Section
from agent.logs.ratelimit import RateLimit
from agent.logs.rules import RuleSpec


@dataclass(frozen=True, kw_only=True)
class FilesConfig(Section):
    globs: list[str] = field(default_factory=list)  # files to follow (glob patterns)
    exclude: list[str] = field(default_factory=list)  # fnmatch patterns of paths to skip
    from_beginning: bool = False


@dataclass(frozen=True, kw_only=True)
class JournalConfig(Section):
    enabled: bool = True
    units: list[str] = field(default_factory=list)
    directory: Path | None = None  # read this journal directory instead of the host's


@dataclass(frozen=True, kw_only=True)
class RulesConfig(Section):
    default: bool = True
    packs: list[Path] = field(default_factory=list)
    # Not a setting: the rules of the default pack and `packs`, merged, once the config check has
    # validated them (agent.config.load_agent_config_in_process). The agent compiles these instead
    # of reading the packs, which would need PyYAML and pydantic. None: read the packs when needed.
    loaded: tuple[RuleSpec, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def with_loaded(self, specs: Sequence[RuleSpec]) -> RulesConfig:
        """A copy carrying the already validated, merged rules of these packs."""
        copy = dataclasses.replace(self)
        # `loaded` is not an __init__ argument (so no config file can set it); set it on the new,
        # not yet shared copy the way dataclasses itself does for frozen instances.
        object.__setattr__(copy, "loaded", tuple(specs))
        return copy


@dataclass(frozen=True, kw_only=True)
class RateLimitConfig(Section):
    burst: Annotated[int, Ge(1), Le(1_000_000)] = 100
    per_second: Annotated[float, Gt(0), Le(1_000_000)] = 10.0

    def to_limit(self) -> RateLimit:
        return RateLimit(self.burst, self.per_second)


@dataclass(frozen=True, kw_only=True)
class LogsConfig(Section):
    enabled: bool = True
    files: FilesConfig = field(default_factory=FilesConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    max_line_bytes: Annotated[int, Ge(256), Le(1024 * 1024)] = 16 * 1024
    multiline_timeout_s: Annotated[float, Gt(0), Le(60)] = 2.0
    rotate_wait_s: Annotated[float, Ge(0), Le(3600)] = 30.0
    # where positions and the journal cursor are kept; default: <spool dir>-log-state next to the spool
    state_dir: Path | None = None
