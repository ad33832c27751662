"""Settings of the web console (the ``console:`` section of collector.yaml).

```yaml
console:
  enabled: true             # serve /console and /portal on the API's listen address
  session_idle: 2h          # a session unused this long ends
  session_absolute: 12h     # every session ends this long after its login
  login_failures: 5         # failed logins per username and client address ...
  login_window: 5m          # ... within this window lock further tries out (429) until it has passed
  secure_cookie: auto       # auto: Secure when the request came over TLS; always | never
```

Without the section, the defaults apply.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agent.configfile import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    session_idle: Seconds = 2 * 3600.0
    session_absolute: Seconds = 12 * 3600.0
    login_failures: int = Field(default=5, ge=1, le=1000)
    login_window: Seconds = 300.0
    secure_cookie: Literal["auto", "always", "never"] = "auto"
