"""Plain result values of an inspection: findings, host and customer results.

Everything here is a dataclass with ``to_dict``/``from_dict`` so the collector can store a run as
JSON and a report can read it back without importing the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from inspections.log_rules import counts_text

Status = Literal["ok", "warning", "critical", "unknown"]
Category = Literal["device_network", "resources", "application", "system_logs", "data_security"]
Severity = Literal["low", "medium", "high"]
Direction = Literal["above", "below"]

STATUSES: tuple[Status, ...] = get_args(Status)
CATEGORIES: tuple[Category, ...] = get_args(Category)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

# The five check items of the service contracts (service-requirements §2), verbatim for reports.
CATEGORY_TITLES: dict[Category, dict[str, str]] = {
    "device_network": {"zh": "设备和网络运行情况", "en": "Device and network status"},
    "resources": {"zh": "设备资源和利用率", "en": "Resources and utilisation"},
    "application": {"zh": "应用系统运行情况", "en": "Application status"},
    "system_logs": {"zh": "系统运行日志", "en": "System logs"},
    "data_security": {"zh": "数据安全", "en": "Data security"},
}

# Worse statuses rank higher; unknown ranks between warning and critical when picking a "worst"
# status for display because an unknown may hide a critical, but it is scored separately.
_STATUS_RANK: dict[Status, int] = {"ok": 0, "warning": 1, "unknown": 2, "critical": 3}


def worst_status(statuses: list[Status]) -> Status:
    """The most severe of ``statuses`` (``ok`` for an empty list)."""
    return max(statuses, key=_STATUS_RANK.__getitem__, default="ok")


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _json_number(value: float | None) -> float | None:
    # NaN and infinities are not JSON; they never reach a finding as an observed value.
    if value is None or not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Threshold:
    """Warn/crit levels. ``above``: status when value >= level; ``below``: when value < level.

    The asymmetry is Checkmk's: an upper level is reached *at* the level, a lower level is broken
    only *under* it (a disk at exactly 90 % with crit 90 is critical; a certificate with exactly 7
    days left and crit 7 is not yet).
    """

    warn: float | None
    crit: float | None
    direction: Direction

    def status_of(self, value: float) -> Status:
        if self.direction == "above":
            if self.crit is not None and value >= self.crit:
                return "critical"
            if self.warn is not None and value >= self.warn:
                return "warning"
            return "ok"
        if self.crit is not None and value < self.crit:
            return "critical"
        if self.warn is not None and value < self.warn:
            return "warning"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"warn": self.warn, "crit": self.crit, "direction": self.direction}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Threshold:
        return cls(warn=data["warn"], crit=data["crit"], direction=data["direction"])


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """One series a finding was computed from."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        """``disk.used_percent{mount=/data}``: how reports and the CLI cite the series."""
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}" if inner else self.name

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "labels": dict(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesRef:
        return cls(name=data["name"], labels=dict(data.get("labels", {})))


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where an observed value came from, so an engineer can reproduce it.

    ``source`` is ``rollups`` (a window aggregation), ``latest`` (the newest value), ``events``
    (log-rule events) or ``host`` (host metadata such as last-seen time). ``aggregation`` says how
    the window was reduced, e.g. ``p95`` of the rollup field ``avg``. Event evidence names the
    ``rules`` it read and ``counts``, the events per rule in the window, most first; people read
    them by display name (:meth:`counts_text`).
    """

    source: Literal["rollups", "latest", "events", "host"]
    series: tuple[SeriesRef, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    aggregation: str | None = None
    rollup: str | None = None
    points: int | None = None
    latest_ts: datetime | None = None
    rules: tuple[str, ...] = ()
    counts: tuple[tuple[str, int], ...] = ()

    def counts_text(self, lang: str) -> str:
        """Which kinds of events were counted and how often, in ``lang``: "磁盘 I/O 错误 12 次"."""
        return counts_text(self.counts, lang)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "series": [s.to_dict() for s in self.series],
            "since": _iso(self.since),
            "until": _iso(self.until),
            "aggregation": self.aggregation,
            "rollup": self.rollup,
            "points": self.points,
            "latest_ts": _iso(self.latest_ts),
            "rules": list(self.rules),
            "counts": [[rule, n] for rule, n in self.counts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(
            source=data["source"],
            series=tuple(SeriesRef.from_dict(s) for s in data.get("series", [])),
            since=_from_iso(data.get("since")),
            until=_from_iso(data.get("until")),
            aggregation=data.get("aggregation"),
            rollup=data.get("rollup"),
            points=data.get("points"),
            latest_ts=_from_iso(data.get("latest_ts")),
            rules=tuple(data.get("rules", [])),
            counts=tuple((str(rule), int(n)) for rule, n in data.get("counts", [])),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict of one check on one subject (a mount, an interface, a URL…) of one host.

    ``subject`` is ``""`` for host-level checks. ``unknown_reason`` is set exactly when the status
    is ``unknown``. ``note`` carries bilingual context a threshold alone does not tell (for
    example "currently not listening").
    """

    host_id: str
    check_id: str
    subject: str
    status: Status
    observed: float | None
    threshold: Threshold
    unit: str
    evidence: Evidence
    recommendation: dict[str, str]
    category: Category
    severity: Severity
    name: dict[str, str]
    unknown_reason: str | None = None
    note: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host_id": self.host_id,
            "check_id": self.check_id,
            "subject": self.subject,
            "status": self.status,
            "unknown_reason": self.unknown_reason,
            "observed": _json_number(self.observed),
            "threshold": self.threshold.to_dict(),
            "unit": self.unit,
            "evidence": self.evidence.to_dict(),
            "recommendation": dict(self.recommendation),
            "category": self.category,
            "severity": self.severity,
            "name": dict(self.name),
            "note": dict(self.note) if self.note else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            host_id=data["host_id"],
            check_id=data["check_id"],
            subject=data["subject"],
            status=data["status"],
            unknown_reason=data.get("unknown_reason"),
            observed=data.get("observed"),
            threshold=Threshold.from_dict(data["threshold"]),
            unit=data["unit"],
            evidence=Evidence.from_dict(data["evidence"]),
            recommendation=dict(data["recommendation"]),
            category=data["category"],
            severity=data["severity"],
            name=dict(data["name"]),
            note=dict(data["note"]) if data.get("note") else None,
        )


@dataclass(frozen=True, slots=True)
class Skipped:
    """A check that does not apply to a host (no swap, no systemd, nothing configured to expect)."""

    check_id: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"check_id": self.check_id, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Skipped:
        return cls(check_id=data["check_id"], reason=data["reason"])


def status_counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts


@dataclass(slots=True)
class HostResult:
    host_id: str
    hostname: str
    customer_id: str
    score: int
    findings: list[Finding]
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return worst_status([f.status for f in self.findings])

    def to_dict(self) -> dict[str, Any]:
        return {
            "host_id": self.host_id,
            "hostname": self.hostname,
            "customer_id": self.customer_id,
            "score": self.score,
            "status": self.status,
            "counts": status_counts(self.findings),
            "findings": [f.to_dict() for f in self.findings],
            "skipped": [s.to_dict() for s in self.skipped],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostResult:
        return cls(
            host_id=data["host_id"],
            hostname=data["hostname"],
            customer_id=data["customer_id"],
            score=data["score"],
            findings=[Finding.from_dict(f) for f in data["findings"]],
            skipped=[Skipped.from_dict(s) for s in data.get("skipped", [])],
        )


@dataclass(frozen=True, slots=True)
class CustomerScore:
    customer_id: str
    score: int
    hosts: int
    worst_host_id: str | None
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "score": self.score,
            "hosts": self.hosts,
            "worst_host_id": self.worst_host_id,
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerScore:
        return cls(
            customer_id=data["customer_id"],
            score=data["score"],
            hosts=data["hosts"],
            worst_host_id=data.get("worst_host_id"),
            counts=dict(data["counts"]),
        )


@dataclass(slots=True)
class InspectionResult:
    """One run of a profile over hosts and a window."""

    profile: str
    since: datetime
    until: datetime
    evaluated_at: datetime
    previous_run_at: datetime | None
    hosts: list[HostResult]
    customers: list[CustomerScore]
    checks: list[str]

    def findings(self) -> list[Finding]:
        return [f for host in self.hosts for f in host.findings]

    def counts(self) -> dict[str, int]:
        return status_counts(self.findings())

    def host(self, host_id: str) -> HostResult:
        for host in self.hosts:
            if host.host_id == host_id:
                return host
        raise KeyError(f"host {host_id!r} is not part of this inspection run")

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "since": _iso(self.since),
            "until": _iso(self.until),
            "evaluated_at": _iso(self.evaluated_at),
            "previous_run_at": _iso(self.previous_run_at),
            "checks": list(self.checks),
            "counts": self.counts(),
            "hosts": [h.to_dict() for h in self.hosts],
            "customers": [c.to_dict() for c in self.customers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InspectionResult:
        since = _from_iso(data["since"])
        until = _from_iso(data["until"])
        evaluated_at = _from_iso(data["evaluated_at"])
        assert since is not None and until is not None and evaluated_at is not None
        return cls(
            profile=data["profile"],
            since=since,
            until=until,
            evaluated_at=evaluated_at,
            previous_run_at=_from_iso(data.get("previous_run_at")),
            checks=list(data["checks"]),
            hosts=[HostResult.from_dict(h) for h in data["hosts"]],
            customers=[CustomerScore.from_dict(c) for c in data["customers"]],
        )
