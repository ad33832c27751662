"""Ticket vocabulary (service-requirements §3): severities, states, classification, records, signals.

Enum values are the stable English identifiers stored in the database and used by the API; each
enum also carries the Chinese term a form or report shows verbatim (``.zh``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """应急响应级别: L1 is the most severe."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"

    @property
    def zh(self) -> str:
        return {"L1": "一级", "L2": "二级", "L3": "三级", "L4": "四级"}[self.value]

    @property
    def rank(self) -> int:
        """1 for L1 … 4 for L4: smaller is more severe."""
        return int(self.value[1])

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """``L1``, ``l1``, ``1`` or ``一级``."""
        if isinstance(value, Severity):
            return value
        text = str(value).strip().upper()
        for s in cls:
            if text in (s.value, s.value[1], s.zh):
                return s
        raise ValueError(f"unknown severity {value!r}: use L1, L2, L3 or L4 (一级…四级)")


SEVERITY_MEANING = {
    Severity.L1: "system failure or serious data loss affecting many users",
    Severity.L2: "functional problem or performance bottleneck affecting some users",
    Severity.L3: "non-critical function abnormal, affecting individual users",
    Severity.L4: "general question, not urgent",
}


class State(StrEnum):
    REGISTERED = "registered"
    CLASSIFIED = "classified"
    ASSIGNED = "assigned"
    RESPONDED = "responded"
    DIAGNOSING = "diagnosing"
    REMOTE = "remote"
    ON_SITE = "on_site"
    WORKAROUND = "workaround"
    RESOLVED = "resolved"
    CUSTOMER_VERIFIED = "customer_verified"
    ARCHIVED = "archived"
    SURVEYED = "surveyed"

    @property
    def zh(self) -> str:
        return _STATE_ZH[self]

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


_STATE_ZH = {
    State.REGISTERED: "已登记", State.CLASSIFIED: "已分类", State.ASSIGNED: "已派单", State.RESPONDED: "已响应",
    State.DIAGNOSING: "诊断中", State.REMOTE: "远程处理", State.ON_SITE: "现场处理", State.WORKAROUND: "临时恢复",
    State.RESOLVED: "已解决", State.CUSTOMER_VERIFIED: "用户确认", State.ARCHIVED: "已归档",
    State.SURVEYED: "已回访",
}

OPEN_STATES = frozenset({State.REGISTERED, State.CLASSIFIED, State.ASSIGNED, State.RESPONDED, State.DIAGNOSING,
                         State.REMOTE, State.ON_SITE, State.WORKAROUND})


class Source(StrEnum):
    FORECAST = "forecast"
    ANOMALY = "anomaly"
    INSPECTION = "inspection"
    OFFLINE = "offline"
    MANUAL = "manual"


class FaultType(StrEnum):
    HARDWARE = "hardware"
    SOFTWARE = "software"
    NETWORK = "network"

    @property
    def zh(self) -> str:
        return {"hardware": "硬件故障", "software": "软件故障", "network": "网络故障"}[self.value]


class Cause(StrEnum):
    SOFTWARE_DEFECT = "software_defect"
    CONFIG_ERROR = "config_error"
    HARDWARE_PROBLEM = "hardware_problem"

    @property
    def zh(self) -> str:
        return {"software_defect": "软件缺陷", "config_error": "配置错误", "hardware_problem": "硬件问题"}[self.value]


class MaintenanceType(StrEnum):
    CORRECTIVE = "corrective"
    ADAPTIVE = "adaptive"
    PERFECTIVE = "perfective"

    @property
    def zh(self) -> str:
        return {"corrective": "纠错性", "adaptive": "适应性", "perfective": "完善性"}[self.value]


class Billing(StrEnum):
    PAID = "paid"
    FREE = "free"

    @property
    def zh(self) -> str:
        return {"paid": "有偿", "free": "无偿"}[self.value]


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}


@dataclass
class Registration:
    """客户咨询/反馈登记表: who reported what, where, and how to reproduce it."""

    customer_unit: str = ""        # 用户单位名称
    address: str = ""              # 地址
    phone: str = ""                # 电话
    contact: str = ""              # 联系人姓名
    description: str = ""          # 问题的具体内容
    handling_status: str = ""      # 处理情况
    occurred_at: datetime | None = None  # 时间
    environment: str = ""          # 环境
    reproduction_steps: str = ""   # 重现步骤
    impact_scope: str = ""         # 影响范围
    channel: str = ""              # hotline, email, dingtalk, wecom, web, system

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Registration:
        data = dict(data or {})
        occurred = data.pop("occurred_at", None)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(occurred_at=datetime.fromisoformat(occurred) if occurred else None, **known)


@dataclass
class Classification:
    fault_type: FaultType | None = None
    cause: Cause | None = None
    maintenance_type: MaintenanceType | None = None
    billing: Billing | None = None
    on_site_required: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"fault_type": self.fault_type, "cause": self.cause, "maintenance_type": self.maintenance_type,
                "billing": self.billing, "on_site_required": self.on_site_required}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Classification:
        data = data or {}
        return cls(
            fault_type=FaultType(data["fault_type"]) if data.get("fault_type") else None,
            cause=Cause(data["cause"]) if data.get("cause") else None,
            maintenance_type=MaintenanceType(data["maintenance_type"]) if data.get("maintenance_type") else None,
            billing=Billing(data["billing"]) if data.get("billing") else None,
            on_site_required=bool(data.get("on_site_required", False)),
        )


@dataclass
class Closure:
    """问题原因、解决方案、预防措施, and 临时性措施/长期性改进措施."""

    cause: str
    solution: str
    prevention: str = ""
    short_term: str = ""
    long_term: str = ""
    recorded_by: str = ""
    recorded_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Closure | None:
        if not data:
            return None
        d = dict(data)
        at = d.pop("recorded_at", None)
        return cls(recorded_at=datetime.fromisoformat(at) if at else None,
                   **{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Satisfaction:
    """服务态度, 服务质量, 故障解决水平: on a 1–5 scale or in percent."""

    attitude: float
    quality: float
    resolution: float
    scale: str = "5"  # "5" (1–5 stars) or "percent" (0–100)
    comment: str = ""
    rated_by: str = ""
    rated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.scale not in ("5", "percent"):
            raise ValueError(f"satisfaction scale must be '5' or 'percent', got {self.scale!r}")
        lo, hi = (1.0, 5.0) if self.scale == "5" else (0.0, 100.0)
        for name in ("attitude", "quality", "resolution"):
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ValueError(f"satisfaction {name} must be between {lo:g} and {hi:g} on scale "
                                 f"{self.scale!r}, got {v:g}")

    def percent(self, name: str) -> float:
        v = float(getattr(self, name))
        return v / 5.0 * 100.0 if self.scale == "5" else v

    @property
    def overall_percent(self) -> float:
        """The mean of the three dimensions in percent: the contracts want it above 85 %."""
        return round(sum(self.percent(n) for n in ("attitude", "quality", "resolution")) / 3.0, 1)

    def to_dict(self) -> dict[str, Any]:
        return {**_clean(asdict(self)), "overall_percent": self.overall_percent}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Satisfaction | None:
        if not data:
            return None
        d = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        at = d.pop("rated_at", None)
        return cls(rated_at=datetime.fromisoformat(at) if at else None, **d)


def fingerprint(host_id: str | None, check_id: str, subject: str) -> str:
    """host + check + subject; long subjects (URLs, log lines) are hashed to keep the key bounded."""
    text = f"{host_id or '-'}|{check_id}|{subject}"
    if len(text) <= 400:
        return text
    return text[:360] + "#" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Signal:
    """One observation of a condition from a source: firing (a problem), clear, or unknown (None).

    ``forecast`` carries the forecast payload (ETA, band, series) of predictive signals; ``details``
    the evidence (a finding, an anomaly score) stored on the ticket.
    """

    source: Source
    check_id: str
    subject: str
    firing: bool | None
    observed_at: datetime
    host_id: str | None = None
    customer_id: str | None = None
    severity: Severity = Severity.L3
    title: str = ""
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    forecast: dict[str, Any] | None = None
    # Heartbeat-style sources fire on every evaluation; counting those as repeats is noise.
    count_repeat: bool = True
    # The SLA profile a policy rule chose; None: the customer's profile.
    sla_profile: str | None = None
    # The title in Chinese: a ticket of a customer who reads Chinese is registered with it (``title`` is English).
    title_zh: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.host_id, self.check_id, self.subject)


def utc(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_ms(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()}: pass a tz-aware time")
    return round(t.timestamp() * 1000)


@dataclass
class Ticket:
    """A ticket as stored (one row of ``tickets``)."""

    id: int
    fingerprint: str
    customer_id: str
    host_id: str | None
    check_id: str
    subject: str
    source: Source
    title: str
    severity: Severity
    state: State
    sla_profile: str
    registration: Registration
    classification: Classification
    closure: Closure | None
    satisfaction: Satisfaction | None
    details: dict[str, Any]
    forecast: dict[str, Any] | None
    assignee: str | None
    reporter: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    occurrences: int
    last_seen_at: datetime
    firing: bool
    clear_since: datetime | None
    flapping: bool
    flap_changes_ms: list[int]
    escalation_level: int
    resume_state: State | None
    repeat_of: int | None
    plan_required_at: datetime | None
    plan_sent_at: datetime | None
    last_repeat_note_at: datetime | None
    repeats_since_note: int

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "customer_id": self.customer_id, "host_id": self.host_id, "check_id": self.check_id,
            "subject": self.subject, "source": self.source.value, "title": self.title,
            "severity": self.severity.value, "severity_zh": self.severity.zh, "state": self.state.value,
            "state_zh": self.state.zh, "assignee": self.assignee, "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(), "occurrences": self.occurrences, "firing": self.firing,
            "flapping": self.flapping, "escalation_level": self.escalation_level,
            "eta": (self.forecast or {}).get("eta"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "fingerprint": self.fingerprint, "sla_profile": self.sla_profile, "reporter": self.reporter,
            "registration": self.registration.to_dict(), "classification": self.classification.to_dict(),
            "closure": self.closure.to_dict() if self.closure else None,
            "satisfaction": self.satisfaction.to_dict() if self.satisfaction else None,
            "details": self.details, "forecast": self.forecast,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "last_seen_at": self.last_seen_at.isoformat(),
            "clear_since": self.clear_since.isoformat() if self.clear_since else None,
            "repeat_of": self.repeat_of,
            "plan_required_at": self.plan_required_at.isoformat() if self.plan_required_at else None,
            "plan_sent_at": self.plan_sent_at.isoformat() if self.plan_sent_at else None,
        }


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    ticket_id: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "details": self.details}
