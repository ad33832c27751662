"""The ``tickets:`` section of collector.yaml: SLA profiles, windows, escalation, noise control, policies.

Example (see docs/tickets.md for every field)::

    tickets:
      default_profile: software-plan
      calendars:
        cn-2025: {holidays: [2025-10-01, 2025-10-02], workdays: [2025-09-28]}
      windows:
        office: {days: mon-fri, hours: ["09:30-12:00", "13:30-19:30"], calendar: cn-2025}
      profiles:
        gold: {window: office, targets: {L1: {respond: 30m, restore: 2h}}, warn_at: 0.75}
      customers:
        acme:
          profile: gold
          escalation:
            - {role: duty_engineer, name: 王工, email: [wang@example.com]}
            - {role: duty_manager, email: [duty@example.com], after: 0}
            - {role: project_manager, email: [pm@example.com], after: 2h}
            - {role: department_director, email: [dir@example.com], after: 8h}
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.configfile import parse_duration
from collector.tickets.calendar import CalendarError, ServiceCalendar, parse_days, parse_hours, zone
from collector.tickets.model import Severity
from collector.tickets.policy import PolicyError, TicketPolicy, load_policy
from collector.tickets.sla import SlaProfile

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Delay = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
ClockName = Literal["respond", "on_site", "restore", "resolve", "plan"]
SeverityName = Annotated[Severity, BeforeValidator(Severity.parse)]
BUILTIN_PROFILES = Path(__file__).with_name("sla_profiles.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HolidayCalendar(_Strict):
    """A shared list of public holidays and make-up working days (调休), referenced by windows."""

    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)


class WindowConfig(_Strict):
    days: str | list[str] = "all"
    hours: list[str] = Field(default_factory=lambda: ["00:00-24:00"])
    timezone: str | None = Field(None, description="IANA zone; default: the customer's time zone")
    calendar: str | None = Field(None, description="a name under tickets.calendars")
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)

    @field_validator("days")
    @classmethod
    def _days(cls, v: str | list[str]) -> str | list[str]:
        parse_days(v)
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one range such as 09:30-19:30")
        for h in v:
            parse_hours(h)
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            zone(v)
        return v


class ClockTargets(_Strict):
    respond: Seconds | None = None
    on_site: Seconds | None = None
    restore: Seconds | None = None
    resolve: Seconds | None = None


class ProfileConfig(_Strict):
    description: str = ""
    window: str | WindowConfig = "7x24"
    clock_windows: dict[ClockName, str | WindowConfig] = Field(default_factory=dict)
    targets: dict[str, ClockTargets] = Field(default_factory=dict)
    warn_at: float = Field(0.8, gt=0, lt=1, description="warn when this fraction of a target is used")
    plan_after: Seconds | None = Field(None, description="not restored within this long -> send the customer a plan")
    plan_within: Seconds | None = Field(None, description="the plan is due this long after it is required")

    @field_validator("targets")
    @classmethod
    def _severity_keys(cls, v: dict[str, ClockTargets]) -> dict[str, ClockTargets]:
        out: dict[str, ClockTargets] = {}
        for key, targets in v.items():
            out["all" if key == "all" else Severity.parse(key).value] = targets
        return out

    @model_validator(mode="after")
    def _plan(self) -> ProfileConfig:
        if self.plan_within is not None and self.plan_after is None:
            raise ValueError("plan_within needs plan_after (when the plan becomes necessary)")
        return self

    def targets_for(self, severity: Severity) -> dict[str, float | None]:
        base = self.targets.get("all", ClockTargets()).model_dump()
        own = self.targets.get(severity.value)
        if own is not None:
            base.update({k: v for k, v in own.model_dump().items() if v is not None})
        return base


class EscalationStep(_Strict):
    role: str = Field(description="duty_engineer, duty_manager, project_manager, department_director, …")
    name: str | None = None
    email: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list, description="notification channel names")
    after: Delay = Field(0.0, description="service-window time after the first SLA breach")


def _default_chain() -> list[EscalationStep]:
    return [EscalationStep(role="duty_engineer", after=0), EscalationStep(role="duty_manager", after=0),
            EscalationStep(role="project_manager", after=4 * 3600), EscalationStep(role="department_director",
                                                                                   after=24 * 3600)]


class CustomerTickets(_Strict):
    profile: str | None = None
    escalation: list[EscalationStep] | None = None


class NoiseConfig(_Strict):
    clear_for: Seconds = Field(900.0, description="auto-resolve after the condition stayed clear this long")
    auto_resolve: bool = True
    flap_window: Seconds = 3600.0
    flap_threshold: int = Field(6, ge=2, description="firing/clear changes within flap_window that mean flapping")
    repeat_note_every: Delay = Field(3600.0, description="at most one timeline entry per this long for repeats")
    reopen_within: Delay = Field(3600.0, description="firing again this soon after auto-resolve reopens the ticket")


class FindingPolicy(_Strict):
    """Whether inspection findings and checklist rows open tickets at all; which ones is the policy file's."""

    enabled: bool = True


class EtaSeverity(_Strict):
    within: Seconds
    severity: SeverityName


class ForecastPolicy(_Strict):
    enabled: bool = True
    horizon: Seconds = Field(7 * 86400.0, description="open a ticket when the limit is expected within this")
    band_edge: bool = Field(True, description="also open one when the early edge of the forecast's band is "
                                              "within the horizon (a failure that may come that soon)")
    severity: list[EtaSeverity] = Field(default_factory=lambda: [
        EtaSeverity(within=86400.0, severity=Severity.L2), EtaSeverity(within=3 * 86400.0, severity=Severity.L3)])
    default_severity: SeverityName = Severity.L4
    max_points: int = Field(240, ge=10, description="points of the series kept on the ticket")

    def within(self, seconds_left: float) -> float:
        """The tightest bound of the policy (a severity rule's ``within``, else the horizon) that
        ``seconds_left`` falls in: a ticket title says "within 3d", which stays true as the ETA moves
        between forecasts, where a countdown would be stale the next hour."""
        return min((r.within for r in self.severity if seconds_left <= r.within), default=self.horizon)

    def severity_for(self, seconds_left: float) -> Severity:
        for rule in sorted(self.severity, key=lambda r: r.within):
            if seconds_left <= rule.within:
                return rule.severity
        return self.default_severity


class AnomalyPolicy(_Strict):
    """When an unusual stretch of a metric becomes a ticket: likely enough, long enough, not too often."""

    enabled: bool = True
    min_likelihood: float = Field(0.35, gt=0, le=1, description="anomaly likelihood that starts an episode")
    min_duration: Seconds = Field(20 * 60.0, description="the value stays outside the expected band this long")
    band_sigmas: float = Field(3.0, gt=0, description="half-width of the expected band, in the series' sigmas")
    per_series_every: Seconds = Field(7 * 86400.0, description="at most one ticket per series this often")
    severity: SeverityName = Severity.L3


class OfflinePolicy(_Strict):
    enabled: bool = True
    severity: SeverityName = Severity.L2
    stale_after: Seconds = Field(30 * 86400.0, description="hosts silent longer are decommissioned, not offline")


class MaintenanceConfig(_Strict):
    """A window that silences ticket creation and notifications: one-off (start/end) or recurring (hours)."""

    customer: str | None = Field(None, description="customer id or glob")
    host: str | None = Field(None, description="host id or glob")
    check: str | None = Field(None, description="check id or glob (agent.offline, disk.usage, forecast.*)")
    start: datetime | None = None
    end: datetime | None = None
    days: str | list[str] | None = None
    hours: str | None = Field(None, description="02:00-04:00; may run past midnight (23:00-01:00)")
    timezone: str | None = Field(None, description="for recurring windows; default: the customer's zone")
    reason: str = ""

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceConfig:
        if not (self.customer or self.host or self.check):
            raise ValueError("name at least one of customer, host or check (a window for everything is an outage)")
        one_off = self.start is not None or self.end is not None
        if one_off and (self.start is None or self.end is None):
            raise ValueError("a one-off window needs both start and end")
        if one_off and self.hours is not None:
            raise ValueError("set either start/end (one-off) or hours (recurring), not both")
        if not one_off and self.hours is None:
            raise ValueError("set start and end (one-off) or hours such as 02:00-04:00 (recurring)")
        for t in (self.start, self.end):
            if t is not None and t.tzinfo is None:
                raise ValueError("start and end need a time zone offset, e.g. 2025-06-01T02:00:00+08:00")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.days is not None:
            parse_days(self.days)
        if self.timezone is not None:
            zone(self.timezone)
        return self


class TicketsConfig(_Strict):
    enabled: bool = True
    evaluate_every: Seconds = Field(30.0, description="SLA evaluation and offline detection period")
    default_profile: str = "software-plan"
    calendars: dict[str, HolidayCalendar] = Field(default_factory=dict)
    windows: dict[str, WindowConfig] = Field(default_factory=dict)
    profiles: dict[str, ProfileConfig] = Field(default_factory=dict)
    customers: dict[str, CustomerTickets] = Field(default_factory=dict)
    escalation: list[EscalationStep] = Field(default_factory=_default_chain,
                                             description="chain for customers without their own")
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    findings: FindingPolicy = Field(default_factory=FindingPolicy)
    policy_file: Path | None = Field(None, description="ticket policy for inspection findings (YAML rules, relative "
                                                       "to collector.yaml); default: the built-in policy")
    forecasts: ForecastPolicy = Field(default_factory=ForecastPolicy)
    anomalies: AnomalyPolicy = Field(default_factory=AnomalyPolicy)
    offline: OfflinePolicy = Field(default_factory=OfflinePolicy)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list)
    link: str | None = Field(None, description="URL template for a ticket in notifications, with {id}")

    _policy: TicketPolicy | None = PrivateAttr(None)

    @field_validator("policy_file")
    @classmethod
    def _policy_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        """Resolved next to collector.yaml and checked here, so that a bad rule is reported as this field."""
        base = info.context.get("config_dir") if isinstance(info.context, dict) else None
        if v is not None and not v.is_absolute() and base is not None:
            v = Path(base) / v
        profiles = {**_builtin()[1], **info.data.get("profiles", {})}
        try:
            load_policy(v).check_profiles(set(profiles))
        except PolicyError as exc:
            raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _load_policy(self) -> TicketsConfig:
        try:
            self._policy = load_policy(self.policy_file)
        except PolicyError as exc:
            raise ValueError(f"policy_file: {exc}") from None
        return self

    @property
    def policy(self) -> TicketPolicy:
        assert self._policy is not None, "set by validation"
        return self._policy

    @model_validator(mode="after")
    def _references(self) -> TicketsConfig:
        windows = self.all_windows()
        profiles = self.all_profiles()
        for name, w in windows.items():
            if w.calendar is not None and w.calendar not in self.calendars:
                raise ValueError(f"window {name!r}: unknown calendar {w.calendar!r} (define it under "
                                 f"tickets.calendars; known: {sorted(self.calendars) or 'none'})")
        for name, p in profiles.items():
            for where, ref in [("window", p.window), *((f"clock_windows.{k}", v) for k, v in p.clock_windows.items())]:
                if isinstance(ref, str) and ref not in windows:
                    raise ValueError(f"profile {name!r}: {where} {ref!r} is not a window (known: {sorted(windows)})")
                if isinstance(ref, WindowConfig) and ref.calendar is not None and ref.calendar not in self.calendars:
                    raise ValueError(f"profile {name!r}: {where}: unknown calendar {ref.calendar!r}")
        if self.default_profile not in profiles:
            raise ValueError(f"default_profile {self.default_profile!r} is not a profile (known: {sorted(profiles)})")
        for cid, c in self.customers.items():
            if c.profile is not None and c.profile not in profiles:
                raise ValueError(f"customers.{cid}.profile {c.profile!r} is not a profile (known: {sorted(profiles)})")
        return self

    def all_windows(self) -> dict[str, WindowConfig]:
        return {**_builtin()[0], **self.windows}

    def all_profiles(self) -> dict[str, ProfileConfig]:
        return {**_builtin()[1], **self.profiles}

    def profile_name(self, customer_id: str | None) -> str:
        c = self.customers.get(customer_id or "")
        return c.profile if c is not None and c.profile else self.default_profile

    def escalation_for(self, customer_id: str | None) -> list[EscalationStep]:
        c = self.customers.get(customer_id or "")
        return c.escalation if c is not None and c.escalation else self.escalation

    def calendar(self, window: str | WindowConfig, default_tz: str) -> ServiceCalendar:
        if isinstance(window, str):
            name, w = window, self.all_windows()[window]
        else:
            name, w = "inline", window
        holidays, workdays = set(w.holidays), set(w.workdays)
        if w.calendar is not None:
            shared = self.calendars[w.calendar]
            holidays.update(shared.holidays)
            workdays.update(shared.workdays)
        try:
            return ServiceCalendar.build(timezone=w.timezone or default_tz, days=w.days, hours=w.hours,
                                         holidays=holidays, workdays=workdays, name=name)
        except CalendarError as e:
            raise CalendarError(f"window {name!r}: {e}") from None

    def sla_profile(self, name: str, default_tz: str = "UTC") -> SlaProfile:
        """The profile ``name`` with its windows in ``default_tz`` where they name no zone of their own."""
        p = self.all_profiles()[name]
        return SlaProfile(
            name=name,
            calendar=self.calendar(p.window, default_tz),
            clock_calendars={k: self.calendar(v, default_tz) for k, v in p.clock_windows.items()},
            targets={s: p.targets_for(s) for s in Severity},
            warn_at=p.warn_at,
            plan_after=p.plan_after,
            plan_within=p.plan_within,
            description=p.description,
        )


@cache
def _builtin() -> tuple[dict[str, WindowConfig], dict[str, ProfileConfig]]:
    raw: dict[str, Any] = yaml.safe_load(BUILTIN_PROFILES.read_text(encoding="utf-8"))
    windows = {k: WindowConfig.model_validate(v or {}) for k, v in raw["windows"].items()}
    profiles = {k: ProfileConfig.model_validate(v) for k, v in raw["profiles"].items()}
    return windows, profiles

