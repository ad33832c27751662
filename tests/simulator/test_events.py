"""Log events: ordinary background, injected bursts, agent-style rate limiting, determinism."""

from __future__ import annotations

from collections import Counter

from collector.simulator.events import HostEvents, SimEvent
from collector.simulator.roles import Role
from collector.simulator.trouble import TroubleKind
from protos.patrol.v1 import agent_pb2
from tests.simulator.helpers import DAY_MS, END_MS, fleet_and_plan, host_with, signals_for, trouble_host

FLEET, PLAN = fleet_and_plan()


def events_of(host_index: int) -> HostEvents:
    host = FLEET.hosts[host_index]
    return HostEvents(host, PLAN.for_host(host.index), signals_for(FLEET, PLAN, host).activity)


def test_background_has_ordinary_failed_logins_with_real_lines() -> None:
    web = host_with(FLEET, Role.WEB)
    events = events_of(web.index).between(END_MS - 14 * DAY_MS, END_MS - 3 * DAY_MS)
    ssh = [e for e in events if e.rule == "sshd.failed_password"]
    assert 100 < len(ssh) < 3000, "a few per hour on an internet-facing web server"
    e = ssh[0]
    assert f" {web.hostname} sshd[" in e.line and "Failed password for" in e.line
    assert e.severity == agent_pb2.SEVERITY_WARNING
    fields = dict(e.fields)
    assert fields["ip"] in e.line and fields["user"] in e.line
    assert [x.timestamp_ms for x in events] == sorted(x.timestamp_ms for x in events)


def test_error_burst_is_far_above_background_and_rate_limited_like_the_agent() -> None:
    host = trouble_host(FLEET, PLAN, TroubleKind.ERROR_BURST)
    burst = next(b for b in PLAN.for_host(host.index).bursts if b.kind is TroubleKind.ERROR_BURST)
    gen = events_of(host.index)
    inside = gen.between(burst.start_ms - 1, burst.end_ms)
    errors = [e for e in inside if e.rule in ("app.error", "generic.error")]
    assert all(e.severity == agent_pb2.SEVERITY_ERROR for e in errors)
    represented = len(errors) + sum(e.suppressed_before for e in errors)
    assert represented > 300
    per_minute = Counter((e.rule, e.timestamp_ms // 60_000) for e in errors)
    assert max(per_minute.values()) <= 30
    assert sum(e.suppressed_before for e in errors) > 0
    assert any("HikariPool-1 - Connection is not available" in e.line for e in errors)
    # The same length of time a day earlier is quiet.
    before = gen.between(burst.start_ms - DAY_MS, burst.end_ms - DAY_MS)
    assert len([e for e in before if e.rule in ("app.error", "generic.error")]) < 10


def test_ssh_bruteforce_comes_from_one_address() -> None:
    host = trouble_host(FLEET, PLAN, TroubleKind.SSH_BRUTEFORCE)
    burst = next(b for b in PLAN.for_host(host.index).bursts if b.kind is TroubleKind.SSH_BRUTEFORCE)
    inside = events_of(host.index).between(burst.start_ms, burst.end_ms)
    attacker = [e for e in inside if dict(e.fields).get("ip") == burst.source_ip]
    assert len(attacker) + sum(e.suppressed_before for e in attacker) > 500
    assert all(e.rule == "sshd.failed_password" and burst.source_ip in e.line for e in attacker)


def test_events_do_not_depend_on_how_time_is_sliced() -> None:
    host = trouble_host(FLEET, PLAN, TroubleKind.ERROR_BURST)
    start, end = END_MS - 3 * DAY_MS, END_MS
    whole = events_of(host.index).between(start, end)
    sliced: list[SimEvent] = []
    fresh = events_of(host.index)
    cuts = [start, start + 7_000_000, start + DAY_MS + 13, end - 3_600_000, end]
    for lo, hi in zip(reversed(cuts[:-1]), reversed(cuts[1:]), strict=True):
        sliced = fresh.between(lo, hi) + sliced
    assert whole == sliced
    assert whole, "three days of a server should have some events"


def test_last_months_incidents_are_lines_the_agents_rules_classify() -> None:
    from agent.logs.rules import load_rules
    from collector.simulator.trouble import OOM_KILLS_PER_INCIDENT, TroubleSpec

    fleet, plan = fleet_and_plan(trouble=TroubleSpec(past_month_incidents=True))
    rules = load_rules()
    seen = Counter[str]()
    for index, trouble in plan.per_host.items():
        host = fleet.hosts[index]
        gen = HostEvents(host, trouble, signals_for(fleet, plan, host).activity)
        for burst in trouble.bursts:
            if burst.kind not in (TroubleKind.DISK_IO_ERRORS, TroubleKind.OOM_KILLS):
                continue
            rule = "disk.io_error" if burst.kind is TroubleKind.DISK_IO_ERRORS else "kernel.oom_kill"
            found = [e for e in gen.between(burst.start_ms - 1, burst.end_ms) if e.rule == rule]
            if burst.kind is TroubleKind.OOM_KILLS:
                assert len(found) == OOM_KILLS_PER_INCIDENT  # at least the check's critical level (3)
            else:
                assert len(found) >= 20  # well above the check's critical level (10)
            for e in found:
                matched = rules.match(e.line, e.source)
                assert matched is not None and matched[0].id == rule, e.line
                assert e.severity == agent_pb2.SEVERITY_CRITICAL and f" {host.hostname} kernel: " in e.line
            # The week before is quiet.
            assert not [e for e in gen.between(burst.start_ms - 7 * DAY_MS, burst.start_ms - 1) if e.rule == rule]
            seen[rule] += 1
    assert seen == {"disk.io_error": 3, "kernel.oom_kill": 3}  # one of each per customer
