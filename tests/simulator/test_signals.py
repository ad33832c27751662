"""Series generators: daily and weekly shape, exact relations, injected trends, determinism."""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import pytest

from collector.simulator.localtime import LocalClock
from collector.simulator.roles import Role
from collector.simulator.trouble import TroubleKind, TroubleSpec
from tests.simulator.helpers import (
    DAY_MS,
    END_MS,
    HOUR_MS,
    by_key,
    catalogue_names,
    fleet_and_plan,
    host_with,
    one,
    signals_for,
    timeline,
    trouble_host,
)

FLEET, PLAN = fleet_and_plan()


def _local(host_tz: str, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LocalClock(host_tz).hour_and_weekday(ts)


@pytest.mark.parametrize("role", [Role.APP, Role.DB, Role.FILE, Role.WEB])
def test_business_hours_are_busier_than_nights_and_weekends_quieter(role: Role) -> None:
    host = host_with(FLEET, role)
    ts = timeline(56, 15 * 60_000)
    busy = one(by_key(signals_for(FLEET, PLAN, host), ts), "cpu.busy_percent")
    hour, weekday = _local(host.customer.timezone, ts)
    workday, weekend = weekday < 5, weekday >= 5
    office = (hour >= 10) & (hour < 16)
    night = (hour >= 3) & (hour < 5)  # after any nightly backup
    assert busy[workday & office].mean() > 2.5 * busy[workday & night].mean()
    assert busy[weekend & office].mean() < 0.9 * busy[workday & office].mean()


def test_kiosks_are_busiest_at_weekends() -> None:
    host = host_with(FLEET, Role.KIOSK)
    ts = timeline(56, 15 * 60_000)
    busy = one(by_key(signals_for(FLEET, PLAN, host), ts), "cpu.busy_percent")
    hour, weekday = _local(host.customer.timezone, ts)
    open_hours = (hour >= 10) & (hour < 19)
    assert busy[(weekday >= 5) & open_hours].mean() > busy[(weekday < 5) & open_hours].mean()


def test_nightly_backup_drives_database_disk_reads() -> None:
    host = host_with(FLEET, Role.DB)
    ts = timeline(28, 10 * 60_000)
    values = by_key(signals_for(FLEET, PLAN, host), ts)
    data_disk = host.disk("/data")
    assert data_disk is not None
    reads = one(values, "diskio.read_bytes_per_s", device=data_disk.disk)
    hour, _ = _local(host.customer.timezone, ts)
    backup = (hour >= 1.6) & (hour < 2.6)
    small_hours = (hour >= 4) & (hour < 5)
    assert reads[backup].mean() > 3 * reads[small_hours].mean()


@pytest.mark.parametrize("host_index", range(12))
def test_relations_hold_exactly(host_index: int) -> None:
    host = FLEET.hosts[host_index]
    ts = timeline(3, 10 * 60_000)
    v = by_key(signals_for(FLEET, PLAN, host), ts)

    for disk in host.disks:
        m = {"mount": disk.mount}
        total, used, free = (one(v, f"disk.{f}_bytes", **m) for f in ("total", "used", "free"))
        np.testing.assert_array_equal(used + free, total)
        assert (total == disk.total_bytes).all()
        np.testing.assert_allclose(one(v, "disk.used_percent", **m), used / total * 100)
        itotal, iused, ifree = (one(v, f"disk.inodes_{f}", **m) for f in ("total", "used", "free"))
        np.testing.assert_array_equal(iused + ifree, itotal)
        for pct in (one(v, "disk.used_percent", **m), one(v, "disk.inodes_used_percent", **m)):
            assert ((pct >= 0) & (pct <= 100)).all()

    total, used, available = (one(v, f"mem.{f}_bytes") for f in ("total", "used", "available"))
    np.testing.assert_array_equal(used + available, total)
    np.testing.assert_allclose(one(v, "mem.used_percent") + one(v, "mem.available_percent"), 100)
    assert (available > 0).all()
    assert (one(v, "swap.used_bytes") <= one(v, "swap.total_bytes")).all()

    shares = sum(one(v, f"cpu.{f}_percent") for f in ("user", "system", "nice", "irq", "softirq"))
    busy = one(v, "cpu.busy_percent")
    np.testing.assert_allclose(shares, busy, atol=1e-9)
    rest = one(v, "cpu.idle_percent") + one(v, "cpu.iowait_percent") + one(v, "cpu.steal_percent")
    np.testing.assert_allclose(busy + rest, 100, atol=1e-9)
    for name in ("busy", "user", "system", "idle", "iowait", "steal"):
        pct = one(v, f"cpu.{name}_percent")
        assert ((pct >= 0) & (pct <= 100)).all(), name

    for n in ("1", "5", "15"):
        np.testing.assert_allclose(one(v, f"load.load{n}_per_core"), one(v, f"load.load{n}") / host.cpu_count)

    parts = sum(one(v, f"procs.{f}") for f in ("running", "sleeping", "zombie", "stopped"))
    np.testing.assert_array_equal(parts, one(v, "procs.total"))
    assert (one(v, "procs.sleeping") >= 0).all()

    boot = one(v, "system.boot_time_seconds")
    np.testing.assert_array_equal(one(v, "system.uptime_seconds"), np.floor(ts / 1000 - boot))
    np.testing.assert_allclose(one(v, "fd.used_percent"), one(v, "fd.open") / one(v, "fd.max") * 100)
    for (name, _), values in v.items():
        assert np.isfinite(values).all(), name
        if name.startswith(("tcp.", "net.", "diskio.")):
            assert (values >= 0).all(), name


def test_error_counters_only_grow_between_reboots() -> None:
    host = host_with(FLEET, Role.DB)
    ts = timeline(90, 30 * 60_000)
    v = by_key(signals_for(FLEET, PLAN, host), ts)
    boot = one(v, "system.boot_time_seconds")
    same_boot = np.diff(boot) == 0
    assert (~same_boot).sum() >= 1, "90 days should include a patch reboot"
    grew = False
    for iface in host.interfaces:
        for kind in ("rx_drops", "rx_errors", "tx_drops", "tx_errors"):
            total = one(v, f"net.{kind}_total", interface=iface.name)
            assert (np.diff(total)[same_boot] >= 0).all()
            grew = grew or total.max() > 0
    assert grew, "some interface counter should have counted something in 90 days"


def test_every_series_is_in_the_catalogue_and_every_group_is_covered() -> None:
    catalogue = catalogue_names()
    names = {s.name for s in signals_for(FLEET, PLAN, FLEET.hosts[0]).generate(np.array([END_MS]))}
    assert names <= catalogue, names - catalogue
    groups = {n.split(".")[0] for n in names}
    assert groups >= {"cpu", "load", "mem", "swap", "disk", "diskio", "net", "tcp", "procs", "system", "fd"}
    assert {"disk.inodes_used_percent", "net.rx_errors_total", "system.uptime_seconds"} <= names


def test_disk_fill_reaches_full_at_the_intended_time_and_not_before_the_end() -> None:
    host = trouble_host(FLEET, PLAN, TroubleKind.DISK_FILL)
    fill = PLAN.for_host(host.index).disk_fill
    assert fill is not None and host.disk(fill.mount) is not None
    signals = signals_for(FLEET, PLAN, host)
    history = timeline(90, 30 * 60_000)
    pct = one(by_key(signals, history), "disk.used_percent", mount=fill.mount)
    assert pct.max() < 95, "the disk must not be full (or nearly) within history"
    # Extrapolate the last three weeks linearly, as an operator with a ruler would.
    recent = history >= END_MS - 21 * DAY_MS
    slope, intercept = np.polyfit((history[recent] - END_MS) / DAY_MS, pct[recent], 1)
    crossing_days = (100 - intercept) / slope
    full_after = TroubleSpec().disk_full_after / timedelta(days=1)
    assert full_after - 0.5 < crossing_days < full_after + 0.5
    # The cleanup 30 days before the end is a visible drop.
    around = (history > fill.cleanup_ms - DAY_MS) & (history < fill.cleanup_ms + DAY_MS)
    assert np.min(np.diff(pct[around])) < -25
    # Once past full, the disk stays at exactly 100 %.
    later = np.arange(END_MS + 8 * DAY_MS, END_MS + 9 * DAY_MS, HOUR_MS, dtype=np.int64)
    v = by_key(signals, later)
    assert (one(v, "disk.used_percent", mount=fill.mount) == 100).all()
    assert (one(v, "disk.free_bytes", mount=fill.mount) == 0).all()


def test_healthy_data_disks_stay_clear_of_full_for_months() -> None:
    fill_host = trouble_host(FLEET, PLAN, TroubleKind.DISK_FILL)
    ts = np.arange(END_MS, END_MS + 60 * DAY_MS, 6 * HOUR_MS, dtype=np.int64)
    for host in FLEET.hosts:
        if host.index == fill_host.index:
            continue
        v = by_key(signals_for(FLEET, PLAN, host), ts)
        for disk in host.disks:
            assert one(v, "disk.used_percent", mount=disk.mount).max() < 90, (host.hostname, disk.mount)


def test_memory_leak_declines_towards_exhaustion_days_after_the_end() -> None:
    host = trouble_host(FLEET, PLAN, TroubleKind.MEMORY_LEAK)
    leak = PLAN.for_host(host.index).memory_leak
    assert leak is not None
    signals = signals_for(FLEET, PLAN, host)
    during = np.arange(leak.start_ms, END_MS + 1, 30 * 60_000, dtype=np.int64)
    available = one(by_key(signals, during), "mem.available_bytes")
    slope, intercept = np.polyfit((during - END_MS) / DAY_MS, available, 1)
    assert slope < 0
    planned = TroubleSpec().memory_exhausted_after / timedelta(days=1)
    assert planned - 1.5 < -intercept / slope < planned + 1.5
    before = np.arange(leak.start_ms - 28 * DAY_MS, leak.start_ms, 30 * 60_000, dtype=np.int64)
    pct = one(by_key(signals, before), "mem.available_percent")
    flat_slope, _ = np.polyfit((before - END_MS) / DAY_MS, pct, 1)
    assert abs(flat_slope) < 0.15, "no trend before the leaking deploy"
    # Same weekday, a week apart: the daily mean has fallen.
    day_means = [available[(during >= d) & (during < d + DAY_MS)].mean()
                 for d in range(leak.start_ms, END_MS - DAY_MS, 7 * DAY_MS)]
    assert all(a > b for a, b in itertools.pairwise(day_means))


def test_values_are_pure_functions_of_host_and_time() -> None:
    host = FLEET.hosts[2]
    ts = timeline(4, 5 * 60_000)
    whole = signals_for(FLEET, PLAN, host).generate(ts)
    fresh = signals_for(FLEET, PLAN, host)
    half = len(ts) // 3
    parts = [fresh.generate(ts[half:]), fresh.generate(ts[:half])]
    for w, late, early in zip(whole, parts[0], parts[1], strict=True):
        assert (w.name, w.labels) == (late.name, late.labels)
        np.testing.assert_array_equal(w.values, np.concatenate((early.values, late.values)))


def test_seed_changes_the_fleet_data() -> None:
    other_fleet, other_plan = fleet_and_plan(seed=2)
    ts = timeline(1, 10 * 60_000)
    a = one(by_key(signals_for(FLEET, PLAN, FLEET.hosts[0]), ts), "cpu.busy_percent")
    b = one(by_key(signals_for(other_fleet, other_plan, other_fleet.hosts[0]), ts), "cpu.busy_percent")
    again = one(by_key(signals_for(*fleet_and_plan(seed=1), FLEET.hosts[0]), ts), "cpu.busy_percent")
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, again)
