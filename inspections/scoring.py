"""Health scores: 0–100 per host from its findings, per customer from its hosts.

The formula (documented with examples in docs/inspections.md):

1. Each non-ok finding deducts ``status points × severity factor``
   (critical 25, warning 10, unknown 5; severity low ×0.5, medium ×1, high ×1.5).
2. Per check, the worst subject deducts in full and every further subject a quarter, capped at twice
   the worst — ten full disks are worse than one, but not ten times worse. Unknown findings are
   summed apart from warnings and criticals.
3. Warning/critical deductions are capped at 50 per category, so one bad area cannot hide the
   others; unknown deductions are capped at 30 in total, because missing data lowers confidence
   rather than proving a fault.
4. ``score = 100 − category deductions − unknown deductions``, then ceilings: a host with any
   critical finding scores at most 69, with any warning at most 89, so a host with an open problem
   never looks healthy.
5. Customer: ``0.75 × mean(host scores) + 0.25 × min(host scores)`` — the mean, pulled towards the
   worst host so one failing server among many healthy ones still shows.

Scores are rounded half up to whole numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from inspections.model import Category, Finding, Severity, Status


@dataclass(frozen=True)
class ScoreWeights:
    status_points: dict[Status, float] = field(
        default_factory=lambda: {"critical": 25.0, "warning": 10.0, "unknown": 5.0, "ok": 0.0}
    )
    severity_factor: dict[Severity, float] = field(default_factory=lambda: {"low": 0.5, "medium": 1.0, "high": 1.5})
    further_subject_share: float = 0.25
    check_cap_multiple: float = 2.0
    category_cap: float = 50.0
    unknown_cap: float = 30.0
    critical_ceiling: float = 69.0
    warning_ceiling: float = 89.0
    customer_worst_share: float = 0.25


DEFAULT_WEIGHTS = ScoreWeights()


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _check_deduction(points: list[float], weights: ScoreWeights) -> float:
    if not points:
        return 0.0
    points.sort(reverse=True)
    worst = points[0]
    total = worst + weights.further_subject_share * sum(points[1:])
    return min(total, weights.check_cap_multiple * worst)


def host_deductions(findings: Sequence[Finding], weights: ScoreWeights = DEFAULT_WEIGHTS) -> dict[str, float]:
    """Deductions by category (warning/critical) plus ``"unknown"``, before caps."""
    known: dict[tuple[str, Category], list[float]] = defaultdict(list)
    unknown: dict[str, list[float]] = defaultdict(list)
    for finding in findings:
        points = weights.status_points[finding.status] * weights.severity_factor[finding.severity]
        if points <= 0:
            continue
        if finding.status == "unknown":
            unknown[finding.check_id].append(points)
        else:
            known[(finding.check_id, finding.category)].append(points)
    out: dict[str, float] = defaultdict(float)
    for (_, category), known_points in known.items():
        out[category] += _check_deduction(known_points, weights)
    out["unknown"] = sum(_check_deduction(unknown_points, weights) for unknown_points in unknown.values())
    return dict(out)


def host_score(findings: Sequence[Finding], weights: ScoreWeights = DEFAULT_WEIGHTS) -> int:
    deductions = host_deductions(findings, weights)
    score = 100.0
    for key, value in deductions.items():
        score -= min(value, weights.unknown_cap if key == "unknown" else weights.category_cap)
    statuses = {f.status for f in findings}
    if "critical" in statuses:
        score = min(score, weights.critical_ceiling)
    elif "warning" in statuses:
        score = min(score, weights.warning_ceiling)
    return round_half_up(max(0.0, min(100.0, score)))


def customer_score(host_scores: Sequence[float], weights: ScoreWeights = DEFAULT_WEIGHTS) -> int:
    if not host_scores:
        raise ValueError("a customer score needs at least one host score")
    mean = sum(host_scores) / len(host_scores)
    share = weights.customer_worst_share
    return round_half_up((1.0 - share) * mean + share * min(host_scores))
