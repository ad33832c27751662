"""The health-score formula of docs/inspections.md, number by number."""

from __future__ import annotations

import pytest

from inspections import Evidence, Finding, Threshold, customer_score, host_score
from inspections.model import Category, Severity, Status
from inspections.scoring import host_deductions


def finding(
    status: Status,
    severity: Severity = "medium",
    check_id: str = "resources.cpu_busy",
    category: Category = "resources",
    subject: str = "",
) -> Finding:
    return Finding(
        host_id="h1",
        check_id=check_id,
        subject=subject,
        status=status,
        observed=None if status == "unknown" else 1.0,
        threshold=Threshold(1, 2, "above"),
        unit="%",
        evidence=Evidence(source="host"),
        recommendation={"zh": "处理", "en": "fix"},
        category=category,
        severity=severity,
        name={"zh": "测试", "en": "test"},
        unknown_reason="no data" if status == "unknown" else None,
    )


def test_no_problem_is_100() -> None:
    assert host_score([]) == 100
    assert host_score([finding("ok"), finding("ok", "high")]) == 100


def test_single_critical_high() -> None:
    # 100 − 25 × 1.5 = 62.5, rounded half up; the critical ceiling (69) does not bind.
    assert host_score([finding("critical", "high")]) == 63


def test_warning_ceiling() -> None:
    # 100 − 10 = 90, but a host with a warning scores at most 89.
    assert host_score([finding("warning")]) == 89
    assert host_score([finding("warning", "low")]) == 89


def test_critical_ceiling() -> None:
    # 100 − 25 × 0.5 = 87.5, but a host with a critical finding scores at most 69.
    assert host_score([finding("critical", "low")]) == 69


def test_unknowns_deduct_without_ceiling() -> None:
    unknowns = [finding("unknown", check_id=f"c.{i}") for i in range(3)]
    assert host_score(unknowns) == 85


def test_further_subjects_of_one_check_count_a_quarter_up_to_twice_the_worst() -> None:
    three = [finding("critical", "medium", "resources.disk_space", subject=m) for m in ("/", "/a", "/b")]
    # 25 + 0.25 × 50 = 37.5 → 62.5 → 63
    assert host_score(three) == 63
    many = [finding("critical", "low", "resources.disk_space", subject=f"/m{i}") for i in range(10)]
    # 12.5 + 0.25 × 112.5 = 40.6, capped at 2 × 12.5
    assert host_deductions(many) == {"resources": 25.0, "unknown": 0.0}


def test_category_cap() -> None:
    four = [finding("critical", "high", f"resources.c{i}") for i in range(4)]
    assert host_score(four) == 50  # 150 capped at 50 for the category


def test_categories_add_up_and_clamp_at_zero() -> None:
    categories: list[Category] = ["device_network", "resources", "application", "system_logs", "data_security"]
    bad = [finding("critical", "high", f"{c}.x{i}", c) for c in categories for i in range(2)]
    assert host_score(bad) == 0


def test_unknown_cap() -> None:
    unknowns = [finding("unknown", "high", f"c.{i}") for i in range(10)]
    assert host_score(unknowns) == 70  # 75 capped at 30


def test_mixed() -> None:
    findings = [
        finding("warning", "medium", "resources.cpu_busy"),  # 10
        finding("critical", "high", "app.processes", "application"),  # 37.5
        finding("unknown", "low", "logs.segfaults", "system_logs"),  # 2.5
    ]
    assert host_score(findings) == 50


def test_customer_score_is_pulled_to_the_worst_host() -> None:
    assert customer_score([100, 100, 40]) == 70  # 0.75 × 80 + 0.25 × 40
    assert customer_score([90]) == 90
    with pytest.raises(ValueError):
        customer_score([])
