"""Per-customer overrides: thresholds, disabled checks and expectations, from YAML.

```yaml
customer: acme
checks:                      # rules; the most specific matching rule wins per field
  - check: resources.disk_space
    warn: 90                 # any of warn / crit / enabled
  - check: resources.disk_space
    hosts: [db-01]           # host ids or hostnames, globs allowed
    subjects: [/data]        # mounts, URLs, ports… as in the findings
    crit: 98
  - check: logs.segfaults
    enabled: false
  - check: network.interface_errors
    recover_warn: 0.002      # once warning, ok again only below 0.002 % (recover_crit likewise)
expect:
  processes: [nginx, {name: app, cmdline: "java -jar app.jar", min_count: 2, hosts: ["app-*"]}]
  ports: [22, 443]
  http: [{url: "https://shop.example.com/health", status: 200}]
  systemd_units: [nginx.service]
  backups: [/backup/db]
  tls: [/etc/nginx/tls/site.pem, "shop.example.com:443"]
  tcp: ["db.internal:5432"]
  ntp_servers: [ntp.aliyun.com]
```

Specificity: a rule scoped to hosts beats one scoped to subjects, which beats an unscoped one; a
rule scoped to both beats all; among equals the later rule wins. Each field (warn, crit, enabled,
recover_warn, recover_crit) is resolved on its own, so a host rule can change only ``crit`` and keep
the customer's ``warn``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inspections.checks.base import Check
from inspections.checks.definition import check_levels
from inspections.checks.library import CheckLibrary, builtin_library, unknown_check_message
from inspections.data import HostInfo
from inspections.errors import OverrideError, parse_yaml, read_yaml, validation_message
from inspections.expectations import ExpectedHttp, ExpectedProcess, HostExpectations
from inspections.hysteresis import Recovery, check_recovery
from inspections.model import Threshold


class _Scoped(BaseModel):
    """An item that may apply to some hosts only: by id/hostname glob and/or by host labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: list[str] = Field(default_factory=list)
    host_labels: dict[str, str] = Field(default_factory=dict)

    def applies_to(self, host: HostInfo) -> bool:
        if self.hosts and not any(
            fnmatch.fnmatchcase(host.host_id, p) or fnmatch.fnmatchcase(host.hostname, p) for p in self.hosts
        ):
            return False
        return all(host.labels.get(k) == v for k, v in self.host_labels.items())


def _promote(field: str, value: Any) -> Any:
    """Let a list item be written as its main value alone (``- 443`` for ``- {port: 443}``)."""
    return value if isinstance(value, dict) else {field: value}


class ExpectProcess(_Scoped):
    name: str = Field(min_length=1)
    cmdline: str | None = None
    min_count: int = Field(default=1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("name", value)


class ExpectPort(_Scoped):
    port: int = Field(ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("port", value)


class ExpectHttp(_Scoped):
    url: str
    status: int | None = Field(default=None, ge=100, le=599)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("url", value)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value


class ExpectUnit(_Scoped):
    unit: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("unit", value)


class ExpectBackup(_Scoped):
    path: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("path", value)


class ExpectTls(_Scoped):
    target: str = Field(min_length=1)  # a certificate file path or host:port

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("target", value)


class ExpectTcp(_Scoped):
    target: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("target", value)

    @field_validator("target")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r} must be host:port with a port from 1 to 65535")
        return value


class ExpectNtp(_Scoped):
    server: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _promote("server", value)


class Expectations(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    processes: list[ExpectProcess] = Field(default_factory=list)
    ports: list[ExpectPort] = Field(default_factory=list)
    http: list[ExpectHttp] = Field(default_factory=list)
    systemd_units: list[ExpectUnit] = Field(default_factory=list)
    backups: list[ExpectBackup] = Field(default_factory=list)
    tls: list[ExpectTls] = Field(default_factory=list)
    tcp: list[ExpectTcp] = Field(default_factory=list)
    ntp_servers: list[ExpectNtp] = Field(default_factory=list)

    def for_host(self, host: HostInfo) -> HostExpectations:
        return HostExpectations(
            processes=tuple(
                ExpectedProcess(p.name, p.cmdline, p.min_count) for p in self.processes if p.applies_to(host)
            ),
            ports=tuple(dict.fromkeys(p.port for p in self.ports if p.applies_to(host))),
            http=tuple(ExpectedHttp(h.url, h.status) for h in self.http if h.applies_to(host)),
            systemd_units=tuple(dict.fromkeys(u.unit for u in self.systemd_units if u.applies_to(host))),
            backups=tuple(dict.fromkeys(b.path for b in self.backups if b.applies_to(host))),
            tls=tuple(dict.fromkeys(t.target for t in self.tls if t.applies_to(host))),
            tcp=tuple(dict.fromkeys(t.target for t in self.tcp if t.applies_to(host))),
            ntp_servers=tuple(dict.fromkeys(n.server for n in self.ntp_servers if n.applies_to(host))),
        )


class ThresholdRule(_Scoped):
    check: str
    subjects: list[str] = Field(default_factory=list)
    warn: float | None = None
    crit: float | None = None
    enabled: bool | None = None
    recover_warn: float | None = None
    recover_crit: float | None = None

    @model_validator(mode="after")
    def _does_something(self) -> ThresholdRule:
        if not {"warn", "crit", "enabled", "recover_warn", "recover_crit"} & self.model_fields_set:
            raise ValueError("a rule must set at least one of warn, crit, enabled, recover_warn or recover_crit")
        return self

    @property
    def specificity(self) -> int:
        return (2 if self.hosts or self.host_labels else 0) + (1 if self.subjects else 0)

    def sets(self, field: str) -> bool:
        return field in self.model_fields_set

    def matches_subject(self, subject: str | None) -> bool:
        if not self.subjects:
            return True
        return subject is not None and any(fnmatch.fnmatchcase(subject, p) for p in self.subjects)


class OverridesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customer: str | None = None
    checks: list[ThresholdRule] = Field(default_factory=list)
    expect: Expectations = Field(default_factory=Expectations)


class HostOverrides:
    """The overrides that apply to one host; answers per check and subject."""

    def __init__(self, rules: dict[str, list[ThresholdRule]], expectations: HostExpectations) -> None:
        self._rules = rules
        self.expectations = expectations

    def _resolve(self, check_id: str, field: str, subject: str | None, default: Any) -> Any:
        value = default
        for rule in self._rules.get(check_id, ()):
            if rule.sets(field) and rule.matches_subject(subject):
                value = getattr(rule, field)
        return value

    def enabled(self, check_id: str, subject: str | None = None) -> bool:
        """``subject=None`` asks about the check as a whole on this host."""
        if subject is None:
            value = True
            for rule in self._rules.get(check_id, ()):
                if rule.sets("enabled") and not rule.subjects:
                    value = bool(rule.enabled)
            return value
        return bool(self._resolve(check_id, "enabled", subject, True))

    def threshold(self, check: Check, subject: str) -> Threshold:
        spec = check.spec
        if check.id not in self._rules:
            return spec.threshold
        return Threshold(
            warn=self._resolve(check.id, "warn", subject, spec.warn),
            crit=self._resolve(check.id, "crit", subject, spec.crit),
            direction=spec.direction,
        )

    def recovery(self, check: Check, subject: str) -> Recovery:
        """The check's recovery levels (:mod:`inspections.hysteresis`) with the overrides applied."""
        default = check.spec.recovery_levels
        if check.id not in self._rules:
            return default
        return Recovery(warn=self._resolve(check.id, "recover_warn", subject, default.warn),
                        crit=self._resolve(check.id, "recover_crit", subject, default.crit))


class Overrides:
    """A customer's validated overrides. ``Overrides.empty()`` means "the catalogue's defaults"."""

    def __init__(self, parsed: OverridesFile, source: str = "<overrides>") -> None:
        self.parsed = parsed
        self.source = source
        self._by_check: dict[str, list[ThresholdRule]] = {}
        # Sorted once by specificity (stable, so file order breaks ties): resolving a field is then
        # "the last matching rule that sets it".
        for rule in sorted(parsed.checks, key=lambda r: r.specificity):
            self._by_check.setdefault(rule.check, []).append(rule)

    @classmethod
    def empty(cls) -> Overrides:
        return cls(OverridesFile(), "<defaults>")

    @property
    def customer(self) -> str | None:
        return self.parsed.customer

    def for_host(self, host: HostInfo) -> HostOverrides:
        rules = {check_id: [r for r in rules if r.applies_to(host)] for check_id, rules in self._by_check.items()}
        return HostOverrides({k: v for k, v in rules.items() if v}, self.parsed.expect.for_host(host))


def parse_overrides(data: Any, source: str = "<overrides>", library: CheckLibrary | None = None) -> Overrides:
    """Validate an already-parsed YAML mapping against the check library."""
    library = library or builtin_library()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise OverrideError(f"{source}: expected a mapping with 'checks' and/or 'expect' at the top level")

    def describe(loc: tuple[int | str, ...]) -> str:
        if len(loc) >= 2 and loc[0] == "checks" and isinstance(loc[1], int):
            items = data.get("checks")
            if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
                return f"check {items[loc[1]].get('check', '?')}"
        return ""

    try:
        parsed = OverridesFile.model_validate(data)
    except ValidationError as exc:
        raise OverrideError(validation_message(exc, source, describe)) from exc
    _validate_rules(parsed, source, library)
    return Overrides(parsed, source)


def _covers(broad: ThresholdRule, narrow: ThresholdRule) -> bool:
    """Whether ``broad`` applies wherever ``narrow`` does (patterns compared literally)."""
    return (
        (not broad.hosts or set(narrow.hosts) <= set(broad.hosts))
        and broad.host_labels.items() <= narrow.host_labels.items()
        and (not broad.subjects or set(narrow.subjects) <= set(broad.subjects))
    )


def _validate_rules(parsed: OverridesFile, source: str, library: CheckLibrary) -> None:
    problems: list[str] = []
    # Resolution order: by specificity, file order among equals (the order HostOverrides uses).
    ordered = sorted(enumerate(parsed.checks), key=lambda item: item[1].specificity)
    for position, (index, rule) in enumerate(ordered):
        where = f"{source}: checks[{index}] (check {rule.check})"
        if rule.check not in library:
            problems.append(f"{source}: checks[{index}].check: {unknown_check_message(rule.check, library.ids())}")
            continue
        check = library.get(rule.check)
        if rule.subjects and not check.per_subject:
            problems.append(
                f"{where}: subjects: {rule.check} gives one result per host, not per subject; remove 'subjects'"
            )
        # The levels in force where this rule applies: the catalogue's, layered with every earlier
        # rule of the same check that also applies there, then this rule.
        levels: dict[str, float | None] = {"warn": check.spec.warn, "crit": check.spec.crit,
                                           "recover_warn": check.spec.recovery_levels.warn,
                                           "recover_crit": check.spec.recovery_levels.crit}
        for _, earlier in [*ordered[:position], (index, rule)]:
            if earlier is rule or (earlier.check == rule.check and _covers(earlier, rule)):
                levels.update({name: getattr(earlier, name) for name in levels if earlier.sets(name)})
        warn, crit = levels["warn"], levels["crit"]
        try:
            check_levels(warn, crit, check.spec.direction)
            check_recovery(warn, crit, Recovery(levels["recover_warn"], levels["recover_crit"]), check.spec.direction)
        except ValueError as exc:
            problems.append(
                f"{where}: {exc} (resulting levels warn={warn}, crit={crit}; direction {check.spec.direction})"
            )
    if problems:
        raise OverrideError("\n".join(problems))


def load_overrides(path: Path | str, library: CheckLibrary | None = None) -> Overrides:
    """Read and validate a customer's overrides YAML; raises :class:`OverrideError`."""
    path = Path(path)
    return parse_overrides(read_yaml(path, OverrideError), str(path), library)


def parse_overrides_text(text: str, source: str = "<overrides>", library: CheckLibrary | None = None) -> Overrides:
    return parse_overrides(parse_yaml(text, source, OverrideError), source, library)


OverridesArg = Overrides | Mapping[str, Overrides] | None


def overrides_for_customer(overrides: OverridesArg, customer_id: str) -> Overrides:
    """One ``Overrides`` for everyone, or a mapping per customer id (missing: defaults)."""
    if overrides is None:
        return _EMPTY
    if isinstance(overrides, Overrides):
        return overrides
    return overrides.get(customer_id, _EMPTY)


_EMPTY = Overrides.empty()
