"""The periodic SLA pass with an injected clock: warnings, breaches, escalation and the plan rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.tickets.model import Severity
from collector.tickets.service import ManualTicket
from tests.tickets.helpers import FakeClock, Harness

SH = ZoneInfo("Asia/Shanghai")

ESCALATION = [
    {"role": "duty_engineer", "name": "王工", "email": ["wang@provider.example"]},
    {"role": "duty_manager", "name": "李经理", "email": ["duty@provider.example"]},
    {"role": "project_manager", "email": ["pm@provider.example"], "after": "4h"},
    {"role": "department_director", "email": ["director@provider.example"], "after": "24h"},
]
NOTIFY: dict[str, Any] = {
    "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none", "from": "patrol@provider.example"},
    "channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
    "routes": [{"channels": ["ops"]}],
}


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(UTC)  # type: ignore[misc]


def make(tmp_path: Path, clock: FakeClock, profile: str, **extra: Any) -> Harness:
    return Harness(tmp_path, clock, {"default_profile": profile, "customers": {"acme": {"escalation": ESCALATION}},
                                     "calendars": {"cn": {"holidays": [f"2025-10-0{d}" for d in range(1, 9)]}},
                                     "windows": {"cn-5x8": {"days": "mon-fri", "hours": ["09:30-19:30"],
                                                            "calendar": "cn"}},
                                     "profiles": {"office": {"window": "cn-5x8",
                                                             "targets": {"L1": {"respond": "2h"}}}},
                                     **extra}, NOTIFY)


def test_business_hours_clock_warns_breaches_and_escalates_once(tmp_path: Path, clock: FakeClock) -> None:
    clock.set(sh(2025, 6, 6, 18, 0))  # Friday 18:00 Beijing time
    h = make(tmp_path, clock, "software-plan-5x8")
    tid = h.svc.create_manual("hotline", ManualTicket(customer_id="acme", title="OA login slow",
                                                      severity=Severity.L2)).id
    # The duty engineer (first step of the chain) is told about the new ticket by e-mail as well.
    opened = [r for r in h.outbox() if r["event"] == "opened"]
    assert {r["channel"] for r in opened} == {"ops", "@email"}
    assert [r["recipients"] for r in opened if r["channel"] == "@email"] == [["wang@provider.example"]]

    clock.set(sh(2025, 6, 8, 23, 0))  # Sunday night: 1.5 h used of 4 h, paused all weekend
    assert h.evaluator.evaluate().warnings == []
    clock.set(sh(2025, 6, 9, 11, 30))  # Monday: 80 % (3.2 h) was reached at 11:12
    report = h.evaluator.evaluate()
    assert report.warnings == [(tid, "respond")] and report.breaches == []
    warning = next(d for _, a, d in h.timeline(tid) if a == "sla_warning")
    assert datetime.fromisoformat(warning["at"]) == sh(2025, 6, 9, 11, 12)
    assert h.evaluator.evaluate().warnings == []  # once
    clock.set(sh(2025, 6, 9, 12, 10))
    report = h.evaluator.evaluate()
    assert report.breaches == [(tid, "respond")]
    assert report.escalations == [(tid, 1, "duty_manager")]
    breach = next(d for _, a, d in h.timeline(tid) if a == "sla_breach")
    assert datetime.fromisoformat(breach["at"]) == sh(2025, 6, 9, 12, 0)
    clock.set(sh(2025, 6, 9, 15, 0))
    assert h.evaluator.evaluate().escalations == []  # project manager only 4 h of service time after
    clock.set(sh(2025, 6, 9, 16, 5))
    assert h.evaluator.evaluate().escalations == [(tid, 2, "project_manager")]
    clock.set(sh(2025, 6, 11, 15, 0))  # Wednesday 15:00: 23 h of service time since (Mon 7.5 + Tue 10 + 5.5)
    assert h.evaluator.evaluate().escalations == []
    clock.set(sh(2025, 6, 11, 16, 30))
    assert h.evaluator.evaluate().escalations == [(tid, 3, "department_director")]
    assert h.evaluator.evaluate().escalations == []
    assert h.svc.get(tid).escalation_level == 3
    mails = {tuple(r["recipients"]) for r in h.outbox() if r["event"] == "escalated" and r["channel"] == "@email"}
    assert mails == {("duty@provider.example",), ("pm@provider.example",), ("director@provider.example",)}
    assert sorted(set(h.events(tid))) == ["escalated", "opened", "sla_breach", "sla_warning"]
    # Acknowledging late records the response; the breach stays on record.
    h.svc.ack(tid, "wang")
    assert h.clocks(tid)["respond"].breached_at == sh(2025, 6, 9, 12, 0)


def test_holidays_pause_the_clock(tmp_path: Path, clock: FakeClock) -> None:
    clock.set(sh(2025, 9, 30, 18, 0))
    h = make(tmp_path, clock, "office")
    tid = h.svc.create_manual("hotline", ManualTicket(customer_id="acme", title="x", severity=Severity.L1)).id
    clock.set(sh(2025, 10, 8, 23, 0))  # a week later, all of it holidays
    assert h.evaluator.evaluate().breaches == []
    clock.set(sh(2025, 10, 9, 10, 1))
    assert h.evaluator.evaluate().breaches == [(tid, "respond")]
    at = next(d for _, a, d in h.timeline(tid) if a == "sla_breach")["at"]
    assert datetime.fromisoformat(at) == sh(2025, 10, 9, 10, 0)


def test_not_fixed_in_time_means_a_plan_for_the_customer(tmp_path: Path, clock: FakeClock) -> None:
    h = make(tmp_path, clock, "hotline")
    start = clock.now
    a = h.svc.create_manual("hotline", ManualTicket(customer_id="acme", title="kiosk app crash")).id
    b = h.svc.create_manual("hotline", ManualTicket(customer_id="acme", title="card reader error")).id
    for t in (a, b):
        h.svc.ack(t, "wang")
    clock.advance(hours=1, minutes=59)
    assert h.evaluator.evaluate().plans == []
    clock.advance(minutes=2)
    report = h.evaluator.evaluate()
    assert sorted(report.plans) == [a, b]
    assert sorted(report.breaches) == [(a, "restore"), (b, "restore")]  # the 2 h fix target passed too
    task = next(d for _, act, d in h.timeline(a) if act == "plan_required")
    assert datetime.fromisoformat(task["at"]) == start + timedelta(hours=2)
    assert datetime.fromisoformat(task["due"]) == start + timedelta(hours=4)
    assert "plan_required" in h.events(a)
    clock.advance(hours=1)
    h.svc.record_plan(a, "wang", "replace the card reader tomorrow 10:00, loaner unit today")
    assert h.clocks(a)["plan"].stop_reason == "met"
    clock.advance(hours=1, minutes=5)
    report = h.evaluator.evaluate()
    assert report.breaches == [(b, "plan")]
    assert h.evaluator.evaluate().plans == []  # required once


@pytest.mark.parametrize("restored_first", [True, False])
def test_restoring_in_time_needs_no_plan(tmp_path: Path, clock: FakeClock, restored_first: bool) -> None:
    h = make(tmp_path, clock, "hotline")
    t = h.svc.create_manual("hotline", ManualTicket(customer_id="acme", title="x")).id
    h.svc.ack(t, "wang")
    clock.advance(hours=1)
    if restored_first:
        h.svc.transition(t, "wang", "workaround")
    clock.advance(hours=1, minutes=1)
    assert (h.evaluator.evaluate().plans == []) is restored_first
