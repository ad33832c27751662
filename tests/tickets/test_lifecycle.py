"""Lifecycle: validated transitions, clock effects, and a timeline entry for every change."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.tickets.lifecycle import (
    TRANSITIONS,
    TransitionError,
    check_transition,
    clock_effects,
    reopen_target,
)
from collector.tickets.model import Closure, Registration, Satisfaction, Severity, State
from collector.tickets.service import ManualTicket, TicketConflict, TicketError
from collector.tickets.sla import clock_status
from tests.tickets.helpers import FakeClock, Harness


def test_work_moves_forward_and_never_back() -> None:
    check_transition(State.REGISTERED, State.CLASSIFIED)
    check_transition(State.REGISTERED, State.RESOLVED)  # fixed during the call
    check_transition(State.REMOTE, State.ON_SITE)
    check_transition(State.ON_SITE, State.REMOTE)
    check_transition(State.WORKAROUND, State.DIAGNOSING)  # the long-term fix
    check_transition(State.RESOLVED, State.CUSTOMER_VERIFIED)
    check_transition(State.ARCHIVED, State.SURVEYED)
    for current, target in [(State.RESPONDED, State.ASSIGNED), (State.RESOLVED, State.DIAGNOSING),
                            (State.ARCHIVED, State.RESOLVED), (State.REGISTERED, State.ARCHIVED),
                            (State.SURVEYED, State.ARCHIVED), (State.DIAGNOSING, State.DIAGNOSING)]:
        with pytest.raises(TransitionError):
            check_transition(current, target)
    with pytest.raises(TransitionError, match="allowed: archived, customer_verified or reopen it"):
        check_transition(State.RESOLVED, State.ASSIGNED)
    assert TRANSITIONS[State.SURVEYED] == frozenset()


def test_reopen_resumes_where_work_stood() -> None:
    assert reopen_target(State.RESOLVED, State.REGISTERED) == State.REGISTERED
    assert reopen_target(State.CUSTOMER_VERIFIED, State.WORKAROUND) == State.DIAGNOSING
    with pytest.raises(TransitionError, match="only resolved or customer_verified"):
        reopen_target(State.ARCHIVED, State.DIAGNOSING)


def test_clock_effects() -> None:
    assert clock_effects(State.RESPONDED, by_person=True).met == {"respond"}
    assert clock_effects(State.WORKAROUND, by_person=True).met == {"respond", "restore"}
    by_hand = clock_effects(State.RESOLVED, by_person=True)
    assert by_hand.met == {"respond", "restore", "resolve"} and "on_site" in by_hand.resolved
    auto = clock_effects(State.RESOLVED, by_person=False)
    assert auto.met == frozenset() and {"respond", "restore", "resolve"} <= auto.resolved
    assert clock_effects(State.RESOLVED, by_person=True, reopen=True).restart == {"restore", "resolve"}


def test_the_whole_path_with_a_timeline_entry_per_change(h: Harness) -> None:
    t = h.svc.create_manual("alice", ManualTicket(
        customer_id="acme", title="报表导出失败", description="export of monthly report fails with HTTP 500",
        severity=Severity.L2, reporter="customer:张三",
        registration=Registration(channel="hotline", reproduction_steps="open report, click export",
                                  impact_scope="finance department")))
    # The form is filled from the customer's record where the caller left it empty.
    assert t.registration.customer_unit == "ACME 有限公司" and t.registration.address == "北京市海淀区"
    assert t.registration.contact == "张三" and t.registration.phone == "13800000000"
    assert t.registration.occurred_at == h.clock.now and t.reporter == "customer:张三"
    assert t.state == State.REGISTERED and t.sla_profile == "software-plan"

    h.clock.advance(minutes=5)
    t = h.svc.classify(t.id, "alice", fault_type="software", cause="software_defect",
                       maintenance_type="corrective", billing="free")
    assert t.state == State.CLASSIFIED and t.classification.fault_type.zh == "软件故障"
    t = h.svc.assign(t.id, "alice", "bob")
    assert t.state == State.ASSIGNED and t.assignee == "bob"
    h.clock.advance(minutes=10)
    t = h.svc.ack(t.id, "bob", "looking at it")
    assert t.state == State.RESPONDED
    assert h.clocks(t.id)["respond"].stop_reason == "met"
    for state in ("diagnosing", "remote", "on_site", "workaround"):
        h.clock.advance(minutes=10)
        t = h.svc.transition(t.id, "bob", state)
    assert h.clocks(t.id)["restore"].stop_reason == "met" and h.clocks(t.id)["resolve"].running
    t = h.svc.note(t.id, "bob", "patched the export template")
    t = h.svc.resolve(t.id, "bob", "fixed", Closure(cause="模板字段缺失", solution="补充字段",
                                                   prevention="发布前回归测试", short_term="手工导出",
                                                   long_term="自动化测试"))
    assert t.state == State.RESOLVED and t.closure is not None and t.closure.recorded_by == "bob"
    t = h.svc.verify(t.id, "alice", "customer confirmed by phone")
    t = h.svc.close(t.id, "alice")
    assert t.state == State.ARCHIVED and t.closed_at is not None
    t = h.svc.rate(t.id, "alice", Satisfaction(attitude=5, quality=4, resolution=4.5, rated_by="张三"))
    assert t.state == State.SURVEYED and t.satisfaction is not None
    assert t.satisfaction.overall_percent == 90.0

    timeline = h.timeline(t.id)
    states = [(d["from"], d["to"]) for _, a, d in timeline if a == "state"]
    assert states == [("registered", "classified"), ("classified", "assigned"), ("assigned", "responded"),
                      ("responded", "diagnosing"), ("diagnosing", "remote"), ("remote", "on_site"),
                      ("on_site", "workaround"), ("workaround", "resolved"), ("resolved", "customer_verified"),
                      ("customer_verified", "archived"), ("archived", "surveyed")]
    actions = [a for _, a, _ in timeline]
    for expected in ("created", "classified", "assigned", "note", "closure", "satisfaction"):
        assert expected in actions
    assert {who for who, a, _ in timeline if a == "state"} == {"alice", "bob"}
    assert all(who for who, _, _ in timeline)


def test_invalid_changes_are_refused_with_what_is_allowed(h: Harness) -> None:
    t = h.svc.create_manual("alice", ManualTicket(customer_id="acme", title="printer offline"))
    with pytest.raises(TicketConflict, match="cannot move a registered ticket to archived"):
        h.svc.transition(t.id, "alice", "archived")
    t = h.svc.resolve(t.id, "alice")
    with pytest.raises(TicketConflict, match="without a closure record"):
        h.svc.close(t.id, "alice")
    h.svc.record_closure(t.id, "alice", Closure(cause="c", solution="s"))
    assert h.svc.close(t.id, "alice").state == State.ARCHIVED
    with pytest.raises(TicketConflict, match="record the customer's rating first"):
        h.svc.transition(t.id, "alice", "surveyed")
    with pytest.raises(TicketConflict, match="only resolved or customer_verified tickets can be reopened"):
        h.svc.reopen(t.id, "alice")
    other = h.svc.create_manual("alice", ManualTicket(customer_id="acme", title="y"))
    h.svc.ack(other.id, "bob")
    with pytest.raises(TicketConflict, match="already responded"):
        h.svc.ack(other.id, "bob")
    with pytest.raises(TicketError, match="cause"):
        h.svc.record_closure(t.id, "alice", Closure(cause=" ", solution="x"))
    with pytest.raises(ValueError, match="between 1 and 5"):
        Satisfaction(attitude=6, quality=5, resolution=5)
    with pytest.raises(TicketError, match="unknown customer"):
        h.svc.create_manual("alice", ManualTicket(customer_id="nobody", title="x"))


def test_reopen_restarts_restore_and_resolve(h: Harness) -> None:
    t = h.svc.create_manual("alice", ManualTicket(customer_id="acme", title="VPN drops", severity=Severity.L1))
    h.svc.ack(t.id, "bob")
    h.clock.advance(hours=1)
    h.svc.resolve(t.id, "bob")
    h.clock.advance(hours=5)
    t = h.svc.reopen(t.id, "alice", "drops again")
    assert t.state == State.DIAGNOSING and t.is_open and t.resolved_at is None
    clocks = h.clocks(t.id)
    assert clocks["restore"].running and len(clocks["restore"].intervals) == 2
    assert not clocks["respond"].running  # the response happened; it does not start over
    h.clock.advance(hours=2)
    # 1 h before the resolution and 2 h since the reopen: the 5 h in between do not count.
    view = h.svc.get(t.id)
    st = clock_status(h.clocks(t.id)["restore"], h.svc.ticket_profile(view).calendar, h.clock.now)
    assert st.elapsed_s == 3 * 3600 and st.remaining_s == 3600  # software plan L1: restore 4 h
    assert [a for a in h.actions(t.id) if a in ("state", "reopened")] == ["state", "state", "reopened"]


def test_on_site_clock_counts_from_the_report(tmp_path: Path, clock: FakeClock) -> None:
    hk = Harness(tmp_path, clock, {"default_profile": "kiosk-hardware"})
    t = hk.svc.create_manual("alice", ManualTicket(customer_id="acme", title="kiosk screen dark"))
    assert "on_site" not in hk.clocks(t.id)
    clock.advance(hours=3)
    hk.svc.classify(t.id, "alice", fault_type="hardware", on_site_required=True)
    rec = hk.clocks(t.id)["on_site"]
    assert rec.target_s == 12 * 3600 and rec.intervals[0][0] == t.created_at
    hk.svc.ack(t.id, "bob")
    hk.svc.transition(t.id, "bob", "on_site")
    assert hk.clocks(t.id)["on_site"].stop_reason == "met"


def test_severity_and_registration_changes_are_recorded(h: Harness) -> None:
    t = h.svc.create_manual("alice", ManualTicket(customer_id="acme", title="slow queries", severity=Severity.L3))
    assert h.clocks(t.id)["respond"].target_s == 12 * 3600
    t = h.svc.classify(t.id, "alice", severity="一级")
    assert t.severity == Severity.L1 and h.clocks(t.id)["respond"].target_s == 2 * 3600
    t = h.svc.update_registration(t.id, "alice", {"environment": "Oracle 19c on RHEL 8",
                                                  "occurred_at": "2025-06-02T09:00:00+08:00"})
    assert t.registration.environment == "Oracle 19c on RHEL 8"
    assert t.registration.occurred_at is not None and t.registration.occurred_at.hour == 9
    with pytest.raises(TicketError, match="unknown registration fields"):
        h.svc.update_registration(t.id, "alice", {"colour": "red"})
    changes = [d for _, a, d in h.timeline(t.id) if a in ("classified", "registration")]
    assert changes == [{"severity": "L1"}, {"changed": ["environment", "occurred_at"]}]
