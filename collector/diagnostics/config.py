"""Collector-side settings of remote diagnostics (the ``diagnostics:`` section of collector.yaml).

```yaml
diagnostics:
  key_dir: /var/lib/patrol/diagnostics   # signing key pair; default <data_dir>/diagnostics
  request_ttl: 60s          # a signed request is valid this long (agents refuse it afterwards)
  default_timeout: 30s      # when the engineer names none; agents cap it with their own max_timeout
  max_timeout: 10m
  default_max_output: 1MiB
  max_output: 16MiB
  per_host: 2               # requests running at once per host
  max_pending: 200          # requests running at once in total
  answer_grace: 15s         # after its timeout, how long to wait for an agent's final answer
  disconnect_grace: 20s     # how long a request survives its agent being disconnected
  keep_finished: 10m        # finished requests stay readable (polling clients) this long
```

Without the section, the defaults apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from agent.configfile import parse_duration, parse_size

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]


class DiagnosticsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_dir: Path | None = None
    request_ttl: Annotated[float, BeforeValidator(parse_duration), Field(ge=1, le=900)] = 60.0
    default_timeout: Seconds = 30.0
    max_timeout: Seconds = 600.0
    default_max_output: Bytes = 2**20
    max_output: Annotated[int, BeforeValidator(parse_size), Field(gt=0, le=256 * 2**20)] = 16 * 2**20
    per_host: int = Field(default=2, ge=1, le=32)
    max_pending: int = Field(default=200, ge=1)
    answer_grace: Seconds = 15.0
    disconnect_grace: Seconds = 20.0
    keep_finished: Seconds = 600.0

    @model_validator(mode="after")
    def _limits(self) -> DiagnosticsSettings:
        if self.default_timeout > self.max_timeout:
            raise ValueError("default_timeout is longer than max_timeout")
        if self.default_max_output > self.max_output:
            raise ValueError("default_max_output is larger than max_output")
        return self
