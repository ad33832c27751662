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

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agent.logs.ratelimit import RateLimit


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilesConfig(_Section):
    globs: list[str] = Field(default_factory=list, description="files to follow (glob patterns)")
    exclude: list[str] = Field(default_factory=list, description="fnmatch patterns of paths to skip")
    from_beginning: bool = False


class JournalConfig(_Section):
    enabled: bool = True
    units: list[str] = Field(default_factory=list)
    directory: Path | None = Field(default=None, description="read this journal directory instead of the host's")


class RulesConfig(_Section):
    default: bool = True
    packs: list[Path] = Field(default_factory=list)


class RateLimitConfig(_Section):
    burst: int = Field(default=100, ge=1, le=1_000_000)
    per_second: float = Field(default=10.0, gt=0, le=1_000_000)

    def to_limit(self) -> RateLimit:
        return RateLimit(self.burst, self.per_second)


class LogsConfig(_Section):
    enabled: bool = True
    files: FilesConfig = Field(default_factory=FilesConfig)
    journal: JournalConfig = Field(default_factory=JournalConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    max_line_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    multiline_timeout_s: float = Field(default=2.0, gt=0, le=60)
    rotate_wait_s: float = Field(default=30.0, ge=0, le=3600)
    state_dir: Path | None = Field(
        default=None, description="where positions and the journal cursor are kept; default: <agent data dir>/logs"
    )
