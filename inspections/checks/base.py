"""The contract between checks and the engine (Checkmk style).

A check declares the series it reads and *yields* observations: a subject and an observed value,
or an unknown with its reason. It never decides warning or critical from its thresholds itself:
the engine applies the thresholds after the customer's overrides, so overrides behave the same for
every check. A check may set a status floor (``min_status``) for facts no threshold expresses, such
as "the process is not running right now".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from inspections.checks.context import CheckContext
from inspections.checks.definition import AnyCheckSpec, PythonCheckSpec
from inspections.errors import CheckDefinitionError, validation_message
from inspections.model import Evidence, Status


@dataclass(frozen=True, slots=True)
class Observation:
    """One subject's observed value. ``value is None`` needs an ``unknown_reason`` or a
    ``min_status`` (a verdict that has no number, e.g. "no backup files at all")."""

    subject: str
    value: float | None
    evidence: Evidence
    unknown_reason: str | None = None
    min_status: Status | None = None
    note: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class NotApplicable:
    """The check does not apply to this host (no swap, no systemd, nothing configured)."""

    reason: str


CheckOutput = Observation | NotApplicable


@dataclass(frozen=True, slots=True)
class CheckInputs:
    """Series names a check reads, so a data source can prefetch them for many hosts at once."""

    rollups: frozenset[str] = field(default_factory=frozenset)
    latest: frozenset[str] = field(default_factory=frozenset)


class Check(ABC):
    spec: AnyCheckSpec

    def __init__(self, spec: AnyCheckSpec) -> None:
        self.spec = spec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def per_subject(self) -> bool:
        """Whether the check yields one result per subject (mount, URL…) or one per host."""
        return True

    @abstractmethod
    def inputs(self) -> CheckInputs: ...

    @abstractmethod
    def evaluate(self, ctx: CheckContext) -> Iterable[CheckOutput]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec.id!r})"


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PythonCheck(Check):
    """Base of checks written in Python; ``Params`` validates the YAML ``params`` mapping."""

    Params: ClassVar[type[BaseModel]] = NoParams
    HOST_LEVEL: ClassVar[bool] = False
    spec: PythonCheckSpec

    @property
    def per_subject(self) -> bool:
        return not self.HOST_LEVEL

    def __init__(self, spec: PythonCheckSpec, source: str = "<checks>") -> None:
        super().__init__(spec)
        try:
            self.params: Any = self.Params.model_validate(spec.params)
        except ValidationError as exc:
            message = validation_message(exc, f"{source}: check {spec.id}", prefix=("params",))
            raise CheckDefinitionError(message) from exc
