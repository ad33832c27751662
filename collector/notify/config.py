"""The ``notifications:`` section of collector.yaml: SMTP, channels, routes, grouping and retries.

Example::

    notifications:
      smtp: {host: smtp.example.com, port: 587, security: starttls, username: patrol,
             password_env: PATROL_SMTP_PASSWORD, sender: patrol@example.com}
      channels:
        ops-mail: {type: email, to: [ops@example.com]}
        acme-ding: {type: dingtalk, url_env: ACME_DINGTALK_URL, secret_env: ACME_DINGTALK_SECRET}
        wecom: {type: wecom, url_env: WECOM_URL}
        feishu: {type: feishu, url_env: FEISHU_URL, format: interactive}
        itsm: {type: webhook, url: "https://itsm.example.com/hooks/patrol"}
      routes:
        - {customers: [acme], severities: [L1, L2], channels: [acme-ding, ops-mail]}
        - {channels: [ops-mail]}
      burst_window: 30s

Secrets (the SMTP password, webhook URLs that embed an access token, signing secrets) may be given
inline or, better, by the name of an environment variable (``*_env``). They are never logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator, model_validator

from agent.configfile import parse_duration
from collector.notify.model import SEVERITIES

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Delay = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _from(inline: SecretStr | None, env: str | None, what: str) -> str | None:
    if inline is not None:
        return inline.get_secret_value()
    if env:
        value = os.environ.get(env)
        if not value:
            raise LookupError(f"{what}: environment variable {env} is not set")
        return value
    return None


class SmtpConfig(_Strict):
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (587), ssl (implicit TLS, 465) or none (trusted relay only)")
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    sender: str = Field(alias="from", description="From address")
    timeout: Seconds = 30.0
    ca_file: Path | None = Field(None, description="CA bundle to verify the server with (default: system CAs)")
    verify: bool = Field(True, description="verify the server certificate; false only for testing")

    @model_validator(mode="after")
    def _auth(self) -> SmtpConfig:
        if self.password is not None and self.password_env:
            raise ValueError("set password or password_env, not both")
        if (self.password is not None or self.password_env) and not self.username:
            raise ValueError("a password needs a username")
        return self

    def secret(self) -> str | None:
        return _from(self.password, self.password_env, "smtp.password_env")


class EmailChannel(_Strict):
    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[Patrol]"


class WebhookChannel(_Strict):
    type: Literal["webhook", "dingtalk", "wecom", "feishu"]
    url: SecretStr | None = Field(None, description="the webhook URL (chat bots embed their token in it)")
    url_env: str | None = None
    secret: SecretStr | None = Field(None, description="DingTalk/Feishu signing secret")
    secret_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="extra HTTP headers (generic webhook)")
    format: Literal["markdown", "interactive", "text"] = Field(
        "markdown", description="feishu: interactive (card) or text; others send markdown")
    mention: list[str] = Field(default_factory=list, description="mobile numbers to @ (DingTalk)")
    timeout: Seconds = 10.0

    @model_validator(mode="after")
    def _shape(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of url or url_env")
        if (self.secret is not None or self.secret_env) and self.type not in ("dingtalk", "feishu"):
            raise ValueError(f"signing secrets are a DingTalk/Feishu feature, not {self.type}")
        if self.mention and self.type != "dingtalk":
            raise ValueError("mention works with DingTalk bots only")
        if self.format == "interactive" and self.type != "feishu":
            raise ValueError("format interactive is a Feishu card; DingTalk and WeCom use markdown")
        return self

    def target(self) -> str:
        url = _from(self.url, self.url_env, "url_env")
        assert url is not None
        return url

    def signing_secret(self) -> str | None:
        return _from(self.secret, self.secret_env, "secret_env")


Channel = Annotated[EmailChannel | WebhookChannel, Field(discriminator="type")]


class Route(_Strict):
    """Notifications matching all given filters go to ``channels``; the first match wins unless continue."""

    customers: list[str] | None = Field(None, description="customer ids or globs; default: any")
    severities: list[str] | None = Field(None, description="L1…L4; default: any")
    events: list[str] | None = Field(None, description="opened, sla_breach, escalated, …; default: any")
    channels: list[str] = Field(min_length=1)
    continue_: bool = Field(False, alias="continue", description="keep matching later routes")

    @field_validator("severities")
    @classmethod
    def _sev(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = []
        for s in v:
            u = str(s).upper()
            if u not in SEVERITIES:
                raise ValueError(f"unknown severity {s!r}: use L1, L2, L3 or L4")
            out.append(u)
        return out


class RetryConfig(_Strict):
    initial: Seconds = 10.0
    multiplier: float = Field(2.0, ge=1.0)
    max_delay: Seconds = 1800.0
    attempts: int = Field(12, ge=1, description="after this many failed attempts the message is failed")

    def delay(self, attempts: int) -> float:
        """Wait before the next try after ``attempts`` failed ones (exponential, capped)."""
        return float(min(self.max_delay, self.initial * self.multiplier ** max(0, attempts - 1)))


class NotificationsConfig(_Strict):
    enabled: bool = True
    smtp: SmtpConfig | None = None
    channels: dict[str, Channel] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    burst_window: Delay = Field(30.0, description="notifications for one channel within this are sent as one")
    max_group: int = Field(20, ge=1, description="at most this many notifications in one grouped message")
    retry: RetryConfig = Field(default_factory=RetryConfig)
    poll_interval: Seconds = 1.0
    lease: Seconds = Field(120.0, description="a claimed message returns to the queue if not settled by then")
    keep_sent: Seconds = Field(30 * 86400.0, description="sent and failed messages are kept this long")

    @model_validator(mode="after")
    def _references(self) -> NotificationsConfig:
        for i, r in enumerate(self.routes):
            for ch in r.channels:
                if ch not in self.channels:
                    raise ValueError(f"routes.{i}: unknown channel {ch!r} (defined: {sorted(self.channels) or 'none'})")
        if self.smtp is None:
            mail = [n for n, c in self.channels.items() if isinstance(c, EmailChannel)]
            if mail:
                raise ValueError(f"channel {mail[0]!r} sends e-mail: configure notifications.smtp")
        return self

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.channels or self.smtp)
