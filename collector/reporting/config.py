"""The ``reports:`` section of collector.yaml: schedules, formats, recipients and delivery.

```yaml
reports:
  enabled: true                     # the API, the CLI and the schedules
  provider: 某某科技 售后服务部        # the service provider named on the cover
  branding:                         # the provider on the cover and in every page's footer
    logo: /etc/patrol/logo.png      # PNG, JPEG or SVG, at most 512 KiB, embedded in the document
    hotline: 400-800-1234
    email: service@provider.example
    website: www.provider.example
  monthly: {enabled: true, profile: monthly}   # after each completed monthly inspection
  quarterly: {enabled: true, at: "08:00"}      # on the first day of each quarter, customer's time
  formats: [html, pdf]              # what a scheduled report is generated and archived as
  attach: [pdf]                     # what the e-mail carries
  deliver: true                     # e-mail scheduled reports (needs notifications.smtp)
  copy_to: [reports@provider.example]          # the provider's own copy of every delivery
  customers:
    acme:
      recipients: [it@acme.example] # instead of the customer's contacts that have an e-mail
      language: zh                  # instead of customers[].language
      enabled: true
      contract: HX-2026-017         # the service contract the reports are delivered under
      sla_level: 一级响应(7×24)      # the service level as the contract names it
      service_window: 7×24 小时
```

Recipients of a customer default to its ``customers[].contacts`` with an e-mail address. The
SMTP server is the one of ``notifications.smtp``.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from collector.config import Seconds

Format = Literal["html", "pdf"]
ALL_FORMATS: tuple[Format, ...] = ("html", "pdf")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_emails(values: list[str]) -> list[str]:
    bad = [v for v in values if not _EMAIL.match(v)]
    if bad:
        raise ValueError(f"not an e-mail address: {', '.join(repr(b) for b in bad)}")
    return values


class MonthlySchedule(_Strict):
    enabled: bool = True
    profile: str = Field(default="monthly", description="the profile whose completed runs trigger the report")


class QuarterlySchedule(_Strict):
    enabled: bool = True
    at: str = Field(default="08:00", description="local time (HH:MM, customer's zone) on the first day of the quarter")

    @field_validator("at")
    @classmethod
    def _time(cls, v: str) -> str:
        if not _TIME.match(v):
            raise ValueError(f"expected HH:MM (24 h), got {v!r}")
        return v

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.at.split(":")
        return int(hour), int(minute)


class CustomerReports(_Strict):
    enabled: bool = True
    recipients: list[str] | None = Field(default=None, description="replaces the customer's contacts as recipients")
    language: Literal["zh", "en"] | None = None
    contract: str = Field(default="", max_length=100, description="the service contract's number, on the cover")
    sla_level: str = Field(default="", max_length=100, description="the contract's service level, on the cover")
    service_window: str = Field(default="", max_length=100, description="when the service is given, on the cover")

    @field_validator("recipients")
    @classmethod
    def _check(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_emails(v)


LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
LOGO_MAX_BYTES = 512 * 1024


class Branding(_Strict):
    """The provider as its customers see it on every report."""

    logo: Path | None = Field(default=None, description="PNG, JPEG or SVG file, embedded in each report")
    hotline: str = Field(default="", max_length=60)
    email: str = Field(default="", max_length=120)
    website: str = Field(default="", max_length=120)

    @field_validator("logo")
    @classmethod
    def _logo(cls, v: Path | None) -> Path | None:
        if v is None:
            return None
        if v.suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"logo {str(v)!r}: use a PNG, JPEG or SVG file ({', '.join(sorted(LOGO_TYPES))})")
        if not v.is_file():
            raise ValueError(f"logo {str(v)!r} does not exist or is not a file")
        if v.stat().st_size > LOGO_MAX_BYTES:
            raise ValueError(f"logo {str(v)!r} is {v.stat().st_size // 1024} KiB; at most {LOGO_MAX_BYTES // 1024} "
                             "KiB is embedded in every report")
        return v

    def logo_data_uri(self) -> str | None:
        """The logo as a ``data:`` URI, so the report stays one self-contained file."""
        if self.logo is None:
            return None
        data = base64.b64encode(self.logo.read_bytes()).decode("ascii")
        return f"data:{LOGO_TYPES[self.logo.suffix.lower()]};base64,{data}"


class ReportsConfig(_Strict):
    enabled: bool = True
    provider: str = Field(default="Patrol", min_length=1, description="the service provider named on the cover")
    branding: Branding = Field(default_factory=lambda: Branding())
    monthly: MonthlySchedule = Field(default_factory=lambda: MonthlySchedule())
    quarterly: QuarterlySchedule = Field(default_factory=lambda: QuarterlySchedule())
    formats: list[Format] = Field(default_factory=lambda: list(ALL_FORMATS), min_length=1)
    attach: list[Format] = Field(default_factory=lambda: list(ALL_FORMATS[1:]))
    deliver: bool = True
    copy_to: list[str] = Field(default_factory=list)
    subject_prefix: str = "[Patrol]"
    check_every: Seconds = Field(default=60.0, description="how often the schedules are looked at")
    delivery_attempts: int = Field(default=5, ge=1, le=50)
    retry_after: Seconds = Field(default=300.0, description="first wait after a failed delivery; doubles each time")
    forecast_days: int = Field(default=90, ge=1, le=365, description="horizon of the monthly report's predictive risks")
    customers: dict[str, CustomerReports] = Field(default_factory=dict)

    @field_validator("copy_to")
    @classmethod
    def _copy(cls, v: list[str]) -> list[str]:
        return check_emails(v)

    @field_validator("formats", "attach")
    @classmethod
    def _unique(cls, v: list[Format]) -> list[Format]:
        return list(dict.fromkeys(v))

    def customer(self, customer_id: str) -> CustomerReports:
        return self.customers.get(customer_id) or CustomerReports()

    def formats_with_attachments(self) -> list[Format]:
        """Formats to generate: the configured ones plus whatever is attached."""
        return list(dict.fromkeys([*self.formats, *self.attach]))


def section(cfg: Any) -> ReportsConfig:
    value = cfg.section("reports")
    assert isinstance(value, ReportsConfig)
    return value


def validate_customers(cfg: ReportsConfig, known: set[str]) -> None:
    unknown = sorted(set(cfg.customers) - known)
    if unknown:
        raise ValueError(f"reports.customers names unknown customer(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known)) or 'none'} (add them under customers:)")
