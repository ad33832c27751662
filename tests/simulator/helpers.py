"""Shared fixtures-in-code for the simulator tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from collector.simulator.fleet import Fleet, FleetSpec, HostProfile, build_fleet
from collector.simulator.noise import FloatArray, IntArray
from collector.simulator.roles import Role
from collector.simulator.signals import HostSignals
from collector.simulator.trouble import TroubleKind, TroublePlan, TroubleSpec, plan_troubles
from inspections.catalogue import catalogue

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
END = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)  # a Friday
END_MS = int(END.timestamp() * 1000)
REPO = Path(__file__).resolve().parents[2]


def fleet_and_plan(agents: int = 12, customers: int = 3, seed: int = 1,
                   trouble: TroubleSpec | None = None) -> tuple[Fleet, TroublePlan]:
    fleet = build_fleet(FleetSpec(agents=agents, customers=customers, seed=seed))
    return fleet, plan_troubles(fleet, trouble if trouble is not None else TroubleSpec(), END)


def signals_for(fleet: Fleet, plan: TroublePlan, host: HostProfile) -> HostSignals:
    return HostSignals(host, plan.for_host(host.index), END_MS)


def host_with(fleet: Fleet, role: Role) -> HostProfile:
    return next(h for h in fleet.hosts if h.role is role)


def trouble_host(fleet: Fleet, plan: TroublePlan, kind: TroubleKind) -> HostProfile:
    name = next(t.host for t in plan.troubles if t.kind is kind)
    return next(h for h in fleet.hosts if h.hostname == name)


def timeline(days_before_end: float, step_ms: int, until_ms: int = END_MS) -> IntArray:
    return np.arange(END_MS - int(days_before_end * DAY_MS), until_ms + 1, step_ms, dtype=np.int64)


def by_key(signals: HostSignals, ts: IntArray) -> dict[tuple[str, tuple[tuple[str, str], ...]], FloatArray]:
    return {(s.name, s.labels): s.values for s in signals.generate(ts)}


def one(values: dict[tuple[str, tuple[tuple[str, str], ...]], FloatArray], name: str, **labels: str) -> FloatArray:
    matches = [v for (n, lab), v in values.items() if n == name and all((k, x) in lab for k, x in labels.items())]
    assert len(matches) == 1, f"{name} {labels}: {len(matches)} series"
    return matches[0]


def catalogue_names() -> set[str]:
    """Series names of the metric catalogue."""
    return set(catalogue().metrics)
