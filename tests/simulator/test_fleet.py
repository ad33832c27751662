"""Fleet model and trouble placement."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from collector.simulator.fleet import FleetSpec, build_fleet, customers_for, facts_of
from collector.simulator.roles import Role
from collector.simulator.trouble import PAST_MONTH_KINDS, TroubleKind, TroubleSpec
from tests.simulator.helpers import END, END_MS, fleet_and_plan

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")  # what the collector accepts as ids


def test_fleet_is_deterministic_by_seed() -> None:
    assert build_fleet(FleetSpec(20, 4, seed=7)) == build_fleet(FleetSpec(20, 4, seed=7))
    a, b = build_fleet(FleetSpec(20, 4, seed=7)), build_fleet(FleetSpec(20, 4, seed=8))
    assert [h.agent_id for h in a.hosts] != [h.agent_id for h in b.hosts]


@pytest.mark.parametrize(("agents", "customers"), [(1, 1), (12, 3), (40, 7), (1000, 25)])
def test_hosts_cover_every_customer_with_unique_valid_identities(agents: int, customers: int) -> None:
    fleet = build_fleet(FleetSpec(agents, customers, seed=3))
    assert len(fleet.hosts) == agents
    assert len(fleet.customers) == customers
    assert all(fleet.hosts_of(c.id) for c in fleet.customers)
    assert len({h.hostname for h in fleet.hosts}) == agents
    assert len({h.agent_id for h in fleet.hosts}) == agents
    assert len({c.id for c in fleet.customers}) == customers
    for h in fleet.hosts:
        assert _ID.match(h.agent_id) and _ID.match(h.customer.id)
        assert h.hostname.startswith(h.customer.id + "-")
        assert h.disk("/") is not None
        ZoneInfo(h.customer.timezone)


def test_first_hosts_cover_every_role_and_customers_include_chinese_names() -> None:
    fleet = build_fleet(FleetSpec(5, 2, seed=1))
    assert {h.role for h in fleet.hosts} == set(Role)
    names = [c.name for c in customers_for(4)]
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in names)
    assert any(c.language == "zh" and c.timezone == "Asia/Shanghai" for c in customers_for(4))


def test_too_few_agents_for_the_customers_is_an_actionable_error() -> None:
    with pytest.raises(ValueError, match="every customer needs at least one host"):
        FleetSpec(agents=2, customers=3)


def test_facts_describe_the_host() -> None:
    fleet = build_fleet(FleetSpec(6, 2, seed=1))
    host = next(h for h in fleet.hosts if h.role is Role.DB)
    facts = facts_of(host, boot_time_ms=END_MS - 3_600_000)
    assert facts.hostname == host.hostname
    assert facts.cpu_count == host.cpu_count and facts.memory_bytes == host.memory_bytes
    assert {d.mount for d in facts.disks} == {"/", "/var/log", "/data"}
    assert facts.interfaces[0].addresses[0].startswith("10.")
    assert facts.boot_time_ms == END_MS - 3_600_000
    assert facts.extra["simulated"] == "true"


def test_default_trouble_lands_once_each_on_fitting_distinct_hosts() -> None:
    fleet, plan = fleet_and_plan(agents=12, customers=3)
    kinds = [t.kind for t in plan.troubles]
    assert sorted(kinds) == sorted(k for k in TroubleKind if k not in PAST_MONTH_KINDS)
    assert len({t.host for t in plan.troubles}) == len(kinds)
    assert not plan.skipped
    by_kind = {t.kind: t for t in plan.troubles}
    disk = by_kind[TroubleKind.DISK_FILL]
    assert disk.subject == "/data" and disk.eta == END + timedelta(days=5)
    assert by_kind[TroubleKind.MEMORY_LEAK].eta == END + timedelta(days=4)
    hosts = {h.hostname: h for h in fleet.hosts}
    assert hosts[by_kind[TroubleKind.MEMORY_LEAK].host].role is Role.APP
    assert hosts[by_kind[TroubleKind.SILENT].host].role is Role.KIOSK
    silent = plan.for_host(hosts[by_kind[TroubleKind.SILENT].host].index)
    assert silent.silent_from_ms == END_MS - 6 * 3_600_000


def test_bursts_happen_at_plausible_local_times_before_the_end() -> None:
    fleet, plan = fleet_and_plan()
    for t in plan.troubles:
        if t.kind not in (TroubleKind.ERROR_BURST, TroubleKind.SSH_BRUTEFORCE):
            continue
        host = next(h for h in fleet.hosts if h.hostname == t.host)
        local = t.starts.astimezone(ZoneInfo(host.customer.timezone))
        assert t.starts < END
        if t.kind is TroubleKind.ERROR_BURST:
            assert 9 <= local.hour < 12, "application errors come with the users"
        else:
            assert 2 <= local.hour < 5, "brute force runs at night"


def test_a_single_host_gets_the_predictive_trouble_but_is_never_silenced() -> None:
    _, plan = fleet_and_plan(agents=1, customers=1)
    kinds = {t.kind for t in plan.troubles}
    assert TroubleKind.SILENT not in kinds
    assert {TroubleKind.DISK_FILL, TroubleKind.MEMORY_LEAK} <= kinds
    assert any("silent" in reason and "--agents" in reason for reason in plan.skipped)


def test_trouble_can_be_switched_off_and_validated() -> None:
    _, plan = fleet_and_plan(trouble=TroubleSpec.none())
    assert plan.troubles == () and plan.per_host == {}
    with pytest.raises(ValueError, match="disk_fill"):
        TroubleSpec(disk_fill=-1)
    with pytest.raises(ValueError, match="silent_for"):
        TroubleSpec(silent_for=timedelta(0))


def test_last_months_incidents_land_on_two_hosts_of_every_customer_inside_that_month() -> None:
    fleet, plan = fleet_and_plan(agents=12, customers=3, trouble=TroubleSpec(past_month_incidents=True))
    past = [t for t in plan.troubles if t.kind in PAST_MONTH_KINDS]
    hosts = {h.hostname: h for h in fleet.hosts}
    assert sorted((t.customer, t.kind) for t in past) == sorted(
        (c, k) for c in {h.customer.id for h in fleet.hosts} for k in PAST_MONTH_KINDS)
    for customer in {t.customer for t in past}:
        mine = [t for t in past if t.customer == customer]
        assert len({t.host for t in mine}) == 2  # one host each
    for t in past:
        zone = ZoneInfo(hosts[t.host].customer.timezone)
        end_local = END.astimezone(zone)
        last_month = (end_local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        assert t.starts.astimezone(zone).strftime("%Y-%m") == last_month and t.eta is None
        if t.kind is TroubleKind.DISK_IO_ERRORS:  # every customer of this fleet has a database or file server
            assert hosts[t.host].role in (Role.DB, Role.FILE)
    # The default trouble is still there, where it was.
    _, default = fleet_and_plan(agents=12, customers=3)
    assert [t for t in plan.troubles if t.kind not in PAST_MONTH_KINDS] == list(default.troubles)
