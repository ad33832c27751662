"""The ``inspections:`` section of collector.yaml: schedules, profiles and overrides per customer.

```yaml
inspections:
  enabled: true                      # the API, the CLI and the schedules
  schedules:                         # every customer's schedules unless it has its own
    - {profile: monthly, cron: "0 2 1 * *"}   # 02:00 on the 1st, in the customer's time zone
    - {profile: daily, cron: "0 6 * * *"}
  overrides_dir: inspections         # <customer id>.yaml in here, when present
  misfire_grace: null                # a run missed while the collector was down runs once at start
  workers: 1                         # inspections running at the same time
  customers:
    acme:
      schedules: [{profile: monthly, cron: "30 1 1 * *"}]   # replaces the default schedules
      overrides: acme-overrides.yaml                         # instead of overrides_dir/acme.yaml
      profile: monthly                                       # default for runs started by hand
```

Profiles are the shipped ones by name (``monthly``, ``daily``) or a profile YAML by path; relative
paths are relative to collector.yaml. Profiles, cron expressions and overrides files are checked
when the configuration is loaded, so a typo stops the collector with the file and field named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from collector.config import Seconds
from inspections import InspectionConfigError, Overrides, load_overrides, load_profile

DEFAULT_PROFILE = "monthly"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _config_dir(info: ValidationInfo) -> Path | None:
    context = info.context or {}
    base = context.get("config_dir") if isinstance(context, dict) else None
    return Path(base) if base is not None else None


def _resolve(value: str | Path, info: ValidationInfo) -> Path:
    path = Path(value).expanduser()
    base = _config_dir(info)
    return path if path.is_absolute() or base is None else (base / path)


def _profile_ref(value: str, info: ValidationInfo) -> str:
    """A shipped profile name stays a name; anything that looks like a file becomes a resolved path."""
    if Path(value).suffix in (".yaml", ".yml") or "/" in value:
        value = str(_resolve(value, info))
    try:
        load_profile(value)
    except InspectionConfigError as exc:
        raise ValueError(str(exc)) from None
    return value


class Schedule(_Strict):
    profile: str = Field(description="a shipped profile (monthly, daily) or a profile YAML path")
    cron: str = Field(description="crontab expression 'minute hour day month weekday' in the customer's time zone")
    enabled: bool = True

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str, info: ValidationInfo) -> str:
        return _profile_ref(value, info)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {value!r}: {exc} "
                             "(use 'minute hour day month weekday', e.g. '0 2 1 * *')") from None
        return " ".join(value.split())


def _default_schedules() -> list[Schedule]:
    return [Schedule(profile="monthly", cron="0 2 1 * *"), Schedule(profile="daily", cron="0 6 * * *")]


class CustomerInspections(_Strict):
    schedules: list[Schedule] | None = Field(None, description="replaces the default schedules; [] for none")
    overrides: Path | None = Field(None, description="this customer's overrides YAML")
    profile: str | None = Field(None, description="profile of runs started without one")

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _profile_ref(value, info)


class InspectionsConfig(_Strict):
    enabled: bool = True
    schedules: list[Schedule] = Field(default_factory=_default_schedules)
    overrides_dir: Path | None = Field(None, description="holds <customer id>.yaml overrides files")
    misfire_grace: Seconds | None = Field(
        None, description="skip (and record as missed) a scheduled run this much late; default: always run once")
    workers: int = Field(1, ge=1, le=16, description="inspections running at the same time")
    profile: str = Field(DEFAULT_PROFILE, description="profile of runs started without one")
    customers: dict[str, CustomerInspections] = Field(default_factory=dict)

    @field_validator("overrides_dir")
    @classmethod
    def _dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str, info: ValidationInfo) -> str:
        return _profile_ref(value, info)

    @model_validator(mode="after")
    def _overrides_valid(self) -> InspectionsConfig:
        # Checked at load time so a typo in a customer's thresholds stops the collector with the
        # file, rule and field named, instead of failing the first scheduled run weeks later.
        problems = []
        for customer_id, path in self.overrides_paths().items():
            try:
                self._load(customer_id, path)
            except InspectionConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- lookups -----------------------------------------------------------------------------------

    def schedules_for(self, customer_id: str) -> list[Schedule]:
        own = self.customers.get(customer_id)
        schedules = own.schedules if own is not None and own.schedules is not None else self.schedules
        return [s for s in schedules if s.enabled]

    def default_profile(self, customer_id: str) -> str:
        own = self.customers.get(customer_id)
        return own.profile if own is not None and own.profile else self.profile

    def overrides_path(self, customer_id: str) -> Path | None:
        own = self.customers.get(customer_id)
        if own is not None and own.overrides is not None:
            return own.overrides
        if self.overrides_dir is not None:
            candidate = self.overrides_dir / f"{customer_id}.yaml"
            if candidate.exists():
                return candidate
        return None

    def overrides_paths(self) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for customer_id, own in self.customers.items():
            if own.overrides is not None:
                out[customer_id] = own.overrides
        if self.overrides_dir is not None and self.overrides_dir.is_dir():
            for path in sorted(self.overrides_dir.glob("*.yaml")):
                out.setdefault(path.stem, path)
        return out

    def overrides_for(self, customer_id: str) -> Overrides | None:
        """The customer's overrides, read afresh (edits apply to the next run); None: defaults."""
        path = self.overrides_path(customer_id)
        return None if path is None else self._load(customer_id, path)

    @staticmethod
    def _load(customer_id: str, path: Path) -> Overrides:
        overrides = load_overrides(path)
        if overrides.customer is not None and overrides.customer != customer_id:
            raise InspectionConfigError(
                f"{path}: customer: the file is for {overrides.customer!r} but is used for customer "
                f"{customer_id!r}; fix 'customer:' in the file or the inspections.customers entry")
        return overrides


def validate_customers(cfg: InspectionsConfig, known: set[str]) -> None:
    """Customers named in the section must exist in ``customers:``; raises ValueError naming them."""
    unknown = sorted(set(cfg.customers) - known)
    if unknown:
        raise ValueError(f"inspections.customers names unknown customer(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known)) or 'none'} (add them under customers:)")


def section(cfg: Any) -> InspectionsConfig:
    """The validated section of a :class:`collector.config.CollectorConfig`."""
    value = cfg.section("inspections")
    assert isinstance(value, InspectionsConfig)
    return value
