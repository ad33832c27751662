"""The YAML shape of a check definition, validated with pydantic.

Three kinds share the common fields (id, bilingual name/description/recommendation, category,
severity, unit, direction, warn/crit):

- ``metric``: a threshold over a metric window — series, label filter, per-label-set subjects,
  the rollup field and how the window is aggregated;
- ``events``: a count of log-rule events in the window;
- ``python``: logic that cannot be a threshold over one aggregate; ``implementation`` names a
  registered Python check and ``params`` are validated by it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inspections.hysteresis import Recovery, check_recovery
from inspections.model import Category, Direction, Severity, Threshold

CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
AGGREGATION = re.compile(r"^(avg|max|min|last|p([1-9]|[1-9][0-9]))$")

# Names of the customer expectation lists a check can require subjects from (see overrides.py).
ExpectationList = Literal["processes", "ports", "http", "systemd_units", "backups", "tls", "tcp", "ntp_servers"]


class Text(BaseModel):
    """A text in both report languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


class RecoveryLevels(BaseModel):
    """``recovery:`` of a check: once at warning (critical), the value must pass ``warn`` (``crit``) to
    get better (see :mod:`inspections.hysteresis`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warn: float | None = None
    crit: float | None = None


class _CheckBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: Text
    description: Text
    category: Category
    severity: Severity
    unit: str
    direction: Direction
    warn: float | None
    crit: float | None
    recommendation: Text
    # How old the newest data may be before the check says "unknown"; defaults to the profile's.
    # Probes that run rarely (certificates, backups) need more than the profile's default.
    stale_after_minutes: int | None = Field(default=None, gt=0)
    # Recovery levels against a value hovering around warn or crit flipping from run to run.
    recovery: RecoveryLevels | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not CHECK_ID.match(value):
            raise ValueError(f"check id {value!r} must be dotted lower-case words, e.g. 'resources.disk_space'")
        return value

    @model_validator(mode="after")
    def _levels(self) -> _CheckBase:
        check_levels(self.warn, self.crit, self.direction)
        if self.recovery is not None:
            check_recovery(self.warn, self.crit, self.recovery_levels, self.direction)
        return self

    @property
    def threshold(self) -> Threshold:
        return Threshold(warn=self.warn, crit=self.crit, direction=self.direction)

    @property
    def recovery_levels(self) -> Recovery:
        r = self.recovery
        return Recovery(r.warn, r.crit) if r is not None else Recovery()


def check_levels(warn: float | None, crit: float | None, direction: Direction) -> None:
    """Reject levels that can never both fire: warn must be reached before crit."""
    if warn is None and crit is None:
        raise ValueError("set at least one of warn and crit")
    if warn is None or crit is None:
        return
    if direction == "above" and warn > crit:
        raise ValueError(f"warn ({warn}) is above crit ({crit}); for direction 'above' warn must be <= crit")
    if direction == "below" and warn < crit:
        raise ValueError(f"warn ({warn}) is below crit ({crit}); for direction 'below' warn must be >= crit")


class MetricCheckSpec(_CheckBase):
    kind: Literal["metric"]
    series: list[str] = Field(min_length=1)
    source: Literal["rollups", "latest"] = "rollups"
    # Rollup field per bucket; ``absmax`` is max(|min|, |max|) for signed series such as offsets.
    rollup: Literal["avg", "max", "min", "last", "absmax"] = "avg"
    aggregation: str = "avg"
    combine: Literal["max", "sum"] = "max"
    subject: list[str] = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    exclude: dict[str, str] = Field(default_factory=dict)
    scale: float = 1.0
    # A rate judged relative to traffic: the value is the (combined) series divided by the sum of
    # these series for the same subject, e.g. interface errors per packet. ``per_floor`` is the
    # least denominator used, so one error on an idle interface does not read as a high share.
    per: list[str] = Field(default_factory=list)
    per_floor: float = Field(default=0.0, ge=0.0)
    when_absent: Literal["unknown", "not_applicable"] = "unknown"
    expected: ExpectationList | None = None

    @field_validator("series", "per", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("aggregation")
    @classmethod
    def _aggregation(cls, value: str) -> str:
        if not AGGREGATION.match(value):
            raise ValueError(f"aggregation {value!r} must be one of avg, max, min, last or a percentile p1..p99")
        return value

    @field_validator("match", "exclude")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"label {label!r}: invalid regular expression {pattern!r}: {exc}") from exc
        return value

    @model_validator(mode="before")
    @classmethod
    def _latest_default(cls, data: Any) -> Any:
        # A latest value is one number per series: "last" is the only aggregation that fits.
        if isinstance(data, dict) and data.get("source") == "latest" and "aggregation" not in data:
            return {**data, "aggregation": "last"}
        return data

    @model_validator(mode="after")
    def _expected_needs_one_subject_label(self) -> MetricCheckSpec:
        if self.expected is not None and len(self.subject) != 1:
            raise ValueError(
                f"expected: {self.expected!r} needs exactly one subject label (the label the probe sets, "
                f"e.g. subject: [target]), got {self.subject}"
            )
        return self

    @model_validator(mode="after")
    def _per_needs_rollups(self) -> MetricCheckSpec:
        if self.per and self.source != "rollups":
            raise ValueError("per: a rate relative to other series needs source 'rollups'")
        if self.per and self.combine != "sum":
            raise ValueError("per: a rate relative to other series adds its series up; set combine: sum")
        return self

    @model_validator(mode="after")
    def _latest_has_no_window(self) -> MetricCheckSpec:
        if self.source == "latest" and self.aggregation != "last":
            raise ValueError(
                f"source 'latest' reads one value per series; aggregation {self.aggregation!r} needs source 'rollups'"
            )
        return self


class EventCheckSpec(_CheckBase):
    kind: Literal["events"]
    rules: list[str] = Field(min_length=1)
    per_hour: bool = False


class PythonCheckSpec(_CheckBase):
    kind: Literal["python"]
    implementation: str
    params: dict[str, Any] = Field(default_factory=dict)


CheckSpec = Annotated[MetricCheckSpec | EventCheckSpec | PythonCheckSpec, Field(discriminator="kind")]
AnyCheckSpec = MetricCheckSpec | EventCheckSpec | PythonCheckSpec


class CheckFile(BaseModel):
    """One YAML file of definitions: ``checks: [...]``."""

    model_config = ConfigDict(extra="forbid")

    checks: list[CheckSpec]
