"""The ticket policy for inspection findings: ordered rules an engineer reviews like Prometheus rules.

A policy file (``tickets.policy_file`` in collector.yaml; the built-in ``ticket_policy.yaml`` when
none is given) lists rules; the first rule whose matchers all accept a finding decides::

    rules:
      - name: lab customers never page anyone
        customers: [lab]
        action: ignore
      - name: failed logins and expiring certificates
        checks: [security.failed_logins, "security.tls_*"]
        states: [critical]
        severity: L1                     # 一级
        sla_profile: hotline
      - states: [critical]
        severity: L2

Matchers left out match everything: ``checks`` (check ids or globs), ``categories`` (the contract's
five items), ``states`` (warning, critical, unknown, and ``issue`` for a manual checklist row marked
abnormal), ``importance`` (the check's own high/medium/low) and ``customers`` (ids, or ``all``).
A finding no rule opens a ticket for counts as clear, so an open ticket resolves after the hysteresis.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from collector.tickets.model import Severity
from inspections.model import Category
from inspections.model import Severity as Importance

BUILTIN_POLICY = Path(__file__).with_name("ticket_policy.yaml")
PolicyState = Literal["warning", "critical", "unknown", "issue"]
POLICY_STATES: tuple[PolicyState, ...] = ("warning", "critical", "unknown", "issue")
SeverityName = Annotated[Severity, BeforeValidator(Severity.parse)]


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, the rule and the field."""


def _listed(value: Any) -> Any:
    """``checks: disk.usage`` reads as ``[disk.usage]``: one matcher need not be a list."""
    return [value] if isinstance(value, str) else value


Matcher = Annotated[list[str], BeforeValidator(_listed)]


class PolicyRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("", description="shown by 'patrol tickets policy explain' and on the ticket")
    checks: Matcher = Field(default_factory=list, description="check ids or globs; empty: every check")
    categories: Annotated[list[Category], BeforeValidator(_listed)] = Field(default_factory=list)
    states: Annotated[list[PolicyState], BeforeValidator(_listed)] = Field(
        default_factory=lambda: list[PolicyState](["warning", "critical"]))
    importance: Annotated[list[Importance], BeforeValidator(_listed)] = Field(default_factory=list)
    customers: Matcher = Field(default_factory=list, description="customer ids or globs, or 'all'; empty: all")
    action: Literal["ticket", "ignore"] = "ticket"
    severity: SeverityName | None = Field(None, description="L1…L4 (一级…四级); required to open tickets")
    sla_profile: str | None = Field(None, description="SLA profile of the ticket; default: the customer's")

    @model_validator(mode="after")
    def _action(self) -> PolicyRule:
        if self.action == "ticket" and self.severity is None:
            raise ValueError("a rule that opens tickets needs severity (L1, L2, L3 or L4 / 一级…四级); "
                             "write action: ignore for a rule that opens none")
        if self.action == "ignore" and (self.severity is not None or self.sla_profile is not None):
            raise ValueError("an ignore rule opens no ticket: remove severity and sla_profile")
        if not self.states:
            raise ValueError(f"states is empty: list some of {', '.join(POLICY_STATES)}, or leave it out")
        return self

    def matches(self, check_id: str, category: str, state: str, importance: str, customer_id: str) -> bool:
        return (_any_glob(self.checks, check_id) and (not self.categories or category in self.categories)
                and state in self.states and (not self.importance or importance in self.importance)
                and (not self.customers or "all" in self.customers or _any_glob(self.customers, customer_id)))

    def describe(self, index: int) -> str:
        return f"rule {index}" + (f" ({self.name})" if self.name else "")


def _any_glob(patterns: list[str], value: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[PolicyRule] = Field(min_length=1)


@dataclass(frozen=True)
class Decision:
    """What the policy does with a finding: the rule that matched (None: no rule did)."""

    rule: PolicyRule | None
    index: int | None

    @property
    def opens(self) -> bool:
        return self.rule is not None and self.rule.action == "ticket"

    @property
    def severity(self) -> Severity:
        assert self.rule is not None and self.rule.severity is not None, "only a ticket rule has a severity"
        return self.rule.severity

    def describe(self) -> str:
        if self.rule is None or self.index is None:
            return "no rule matches: no ticket"
        what = (f"open a ticket at {self.severity.value} ({self.severity.zh})"
                + (f" under SLA profile {self.rule.sla_profile}" if self.rule.sla_profile else "")
                if self.opens else "ignore: no ticket")
        return f"{self.rule.describe(self.index)} matches: {what}"


@dataclass(frozen=True)
class TicketPolicy:
    rules: tuple[PolicyRule, ...]
    source: str

    def decide(self, check_id: str, category: str, state: str, importance: str, customer_id: str) -> Decision:
        for i, rule in enumerate(self.rules):
            if rule.matches(check_id, category, state, importance, customer_id):
                return Decision(rule, i)
        return Decision(None, None)

    def check_profiles(self, known: set[str]) -> None:
        """Every ``sla_profile`` a rule names must exist (built in or under tickets.profiles)."""
        for i, rule in enumerate(self.rules):
            if rule.sla_profile is not None and rule.sla_profile not in known:
                raise PolicyError(f"{self.source}: {rule.describe(i)}: sla_profile {rule.sla_profile!r} is not a "
                                  f"profile (known: {', '.join(sorted(known))})")


def _location(loc: tuple[int | str, ...], rules: list[Any]) -> str:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        i = loc[1]
        raw = rules[i] if i < len(rules) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"rule {i}" + (f" ({name})" if name else "")
        fields = ".".join(str(p) for p in loc[2:])
        return f"{where}: field {fields}" if fields else where
    return "field " + (".".join(str(p) for p in loc) or "(top level)")


def parse_policy(raw: Any, source: str) -> TicketPolicy:
    try:
        parsed = _PolicyFile.model_validate(raw)
    except ValidationError as exc:
        rules: list[Any] = raw["rules"] if isinstance(raw, dict) and isinstance(raw.get("rules"), list) else []
        lines = []
        for err in exc.errors(include_url=False):
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (see docs/tickets.md for the fields of a rule)"
            elif err["type"] == "missing":
                message = "required field is missing"
            lines.append(f"{source}: {_location(tuple(err['loc']), rules)}: {message}")
        raise PolicyError("\n".join(lines)) from None
    return TicketPolicy(tuple(parsed.rules), source)


def load_policy(path: Path | None = None) -> TicketPolicy:
    """The policy in ``path`` (default: the built-in one); :class:`PolicyError` names what is wrong."""
    path = path or BUILTIN_POLICY
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the ticket policy: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PolicyError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    return parse_policy(raw, str(path))


__all__ = ["BUILTIN_POLICY", "POLICY_STATES", "Decision", "PolicyError", "PolicyRule", "TicketPolicy",
           "load_policy", "parse_policy"]
