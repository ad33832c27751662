"""Parsers of the SSH poll's commands: fixed outputs from other systems, and this machine's own output
compared with what the agent's collectors measure here."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

import psutil
import pytest

from agent.collectors.disk import DiskCollector
from agent.collectors.fd import FdCollector
from agent.collectors.load import load_samples
from agent.collectors.net import net_rate_samples, net_total_samples
from agent.collectors.tcp import STATES
from agent.facts import _interfaces, cpu_model, os_name, read_os_release
from agent.model import Sample
from collector.ssh import parsers as p
from collector.ssh.commands import COMMANDS_BY_NAME
from tests.ssh import samples as s


def by_name(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(x.name, x.labels): x.value for x in samples}


def local(name: str) -> str:
    """This machine's output of one of the poll's commands (its first alternative that works)."""
    for argv in COMMANDS_BY_NAME[name].alternatives:
        if shutil.which(argv[0]) is None:
            continue
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
        if done.stdout.strip():
            return done.stdout
    pytest.skip(f"none of {COMMANDS_BY_NAME[name].alternatives} works on this machine")


# ------------------------------------------------------------------------------------ fixed outputs


@pytest.mark.parametrize(("text", "release", "machine", "node"), [
    (s.UNAME_DEBIAN, "6.1.0-18-amd64", "x86_64", "db-01"),
    (s.UNAME_CENTOS7, "3.10.0-1160.el7.x86_64", "x86_64", "app-02"),
    (s.UNAME_ARM, "6.1.21-v8+", "aarch64", "pi"),
    (s.UNAME_BUSYBOX, "5.15.134", "mips", "OpenWrt"),
])
def test_uname(text: str, release: str, machine: str, node: str) -> None:
    u = p.parse_uname(text)
    assert u is not None
    assert (u.system, u.nodename, u.release, u.machine) == ("Linux", node, release, machine)
    assert p.parse_uname("") is None


@pytest.mark.parametrize(("text", "seconds"), list(s.UPTIMES.items()))
def test_uptime_command(text: str, seconds: int) -> None:
    assert p.parse_uptime_command(text) == seconds


def test_proc_uptime_and_garbage() -> None:
    assert p.parse_proc_uptime("12345.67 2345.60\n") == 12345.67
    assert p.parse_proc_uptime("") is None
    assert p.parse_uptime_command("no uptime here") is None


def test_cpu_from_two_stat_readings() -> None:
    first, second = p.parse_proc_stat(s.PROC_STAT_1), p.parse_proc_stat(s.PROC_STAT_2)
    assert first is not None and second is not None
    assert first.cpus == 4 and first.boot_time == 1717000000
    values = {x.name: x.value for x in p.cpu_samples(first.cpu, second.cpu)}
    # deltas: user 2000, system 1000, idle 3600, iowait 300, softirq 80, steal 20 -> total 7000
    assert values["cpu.user_percent"] == pytest.approx(2000 / 7000 * 100)
    assert values["cpu.idle_percent"] == pytest.approx(3600 / 7000 * 100)
    assert values["cpu.busy_percent"] == pytest.approx(100 - (3600 + 300 + 20) / 7000 * 100)
    shares = [v for k, v in values.items() if k != "cpu.busy_percent"]
    assert sum(shares) == pytest.approx(100.0)
    assert p.cpu_samples(second.cpu, second.cpu) == []  # no time passed: nothing, not zeros
    assert p.parse_proc_stat("intr 1 2 3\n") is None


def test_memory_without_memavailable_and_swap() -> None:
    old = {x.name: x.value for x in p.memory_samples(p.parse_meminfo(s.MEMINFO_OLD))}
    available = (120000 + 50000 + 800000) * 1024
    assert old["mem.total_bytes"] == 1922300 * 1024
    assert old["mem.available_bytes"] == available
    assert old["mem.used_bytes"] == 1922300 * 1024 - available
    assert old["swap.used_bytes"] == (2097148 - 2000000) * 1024
    assert old["swap.used_percent"] == pytest.approx(97148 / 2097148 * 100)
    no_swap = {x.name: x.value for x in p.memory_samples(p.parse_meminfo(s.MEMINFO_NO_SWAP))}
    assert no_swap["mem.available_percent"] == pytest.approx(12000000 / 16303412 * 100)
    assert no_swap["swap.total_bytes"] == 0
    assert "swap.used_percent" not in no_swap  # absent, like the agent, when there is no swap
    assert p.memory_samples({}) == []


def test_disks_keep_real_local_filesystems_once() -> None:
    filesystems = p.real_filesystems(p.parse_df(s.DF_P), p.parse_df_inodes(s.DF_PI), p.parse_mounts(s.MOUNTS))
    assert [(f.mount, f.device, f.fstype) for f in filesystems] == [
        ("/", "sda1", "ext4"),  # /var/lib/docker is the same device: reported once, at the shorter path
        ("/data disk", "sdb1", "xfs"),  # \040 in /proc/mounts is the space df prints
        ("/var", "mapper/vg0-var", "btrfs"),
    ]  # tmpfs, overlay, nfs4 and the CD are left out
    values = by_name(p.disk_samples(filesystems))
    root = (("device", "sda1"), ("fstype", "ext4"), ("mount", "/"))
    assert values[("disk.total_bytes", root)] == 41152736 * 1024
    assert values[("disk.used_percent", root)] == pytest.approx(16449280 / (16449280 + 22584176) * 100)
    assert values[("disk.inodes_used", root)] == 310000
    btrfs = (("device", "mapper/vg0-var"), ("fstype", "btrfs"), ("mount", "/var"))
    assert ("disk.inodes_total", btrfs) not in values  # btrfs has no inode table: absent, not 0
    assert ("disk.free_bytes", btrfs) in values


def test_df_block_size_from_header_and_no_mount_table() -> None:
    (row,) = p.parse_df(s.DF_P_512)
    assert row.total == 82305472 * 512
    without_mounts = p.real_filesystems(p.parse_df(s.DF_P), {}, None)
    assert {f.mount for f in without_mounts} == {"/", "/data disk", "/media/cdrom", "/var"}
    assert all(f.fstype == "" for f in without_mounts)


def test_ip_link_old_and_new_formats() -> None:
    old = p.parse_ip_link(s.IP_LINK_OLD)
    assert set(old) == {"lo", "eth0", "veth1a2b"}
    assert old["lo"].loopback and not old["eth0"].loopback
    assert old["eth0"].counters == {"rx_bytes": 987654321, "rx_packets": 654321, "rx_errors": 3, "rx_drops": 17,
                                    "tx_bytes": 123456789, "tx_packets": 234567, "tx_errors": 0, "tx_drops": 2}
    assert (old["eth0"].mtu, old["eth0"].mac, old["eth0"].up) == (1500, "52:54:00:12:34:56", True)
    new = p.parse_ip_link(s.IP_LINK_NEW)["enp3s0"]
    assert new.counters["rx_drops"] == 2 + 5  # dropped + missed, as /proc/net/dev counts them
    assert new.up is False  # administratively up but no carrier
    assert set(p.net_counters(old)) == {"eth0", "veth1a2b"}  # loopback excluded


def test_proc_net_dev_matches_ip_link() -> None:
    dev = p.parse_proc_net_dev(s.PROC_NET_DEV)
    assert p.net_counters(dev)["eth0"] == p.net_counters(p.parse_ip_link(s.IP_LINK_OLD))["eth0"]
    assert dev["lo"].loopback


def test_net_samples() -> None:
    counters = p.net_counters(p.parse_ip_link(s.IP_LINK_OLD))
    totals = by_name(net_total_samples(counters))
    assert totals[("net.rx_drops_total", (("interface", "eth0"),))] == 17
    rates = by_name(net_rate_samples({"eth0": (1000.0, 500.0, 10.0, 5.0, 0.0, 0.0, 2.0, 0.0)}, 10.0))
    assert rates[("net.rx_bytes_per_s", (("interface", "eth0"),))] == 100.0
    assert rates[("net.rx_drops_per_s", (("interface", "eth0"),))] == 0.2


def test_ip_addr() -> None:
    assert p.parse_ip_addr(s.IP_ADDR) == {"lo": ["127.0.0.1/8", "::1/128"],
                                          "eth0": ["10.0.0.5/24", "10.0.0.6/24", "fe80::5054:ff:fe12:3456/64"]}


def test_tcp_states() -> None:
    counts = p.parse_proc_net_tcp(s.PROC_NET_TCP)
    assert counts is not None
    assert (counts["listen"], counts["established"], counts["time_wait"]) == (3, 1, 1)
    full = by_name(p.tcp_samples(counts, complete=True))
    assert {labels[0][1] for _, labels in full} == set(STATES)  # every state, zeros included
    assert full[("tcp.connections", (("state", "close_wait"),))] == 0
    assert p.parse_proc_net_tcp("cat: /proc/net/tcp: No such file") is None


@pytest.mark.parametrize(("text", "expected"), [
    (s.SS_S_NEW, {"established": 2, "time_wait": 36}),
    (s.SS_S_OLD, {"established": 4, "syn_recv": 0, "time_wait": 1}),
])
def test_ss_summary(text: str, expected: dict[str, int]) -> None:
    counts = p.parse_ss_summary(text)
    assert counts is not None and dict(counts) == expected
    assert {labels[0][1] for _, labels in by_name(p.tcp_samples(counts, complete=False))} == set(expected)


def test_failed_units_file_nr_cpuinfo_os() -> None:
    assert p.parse_failed_units(s.FAILED_UNITS) == ["nginx.service", "backup-db.timer"]
    assert p.parse_failed_units(s.FAILED_UNITS_BULLET) == ["mariadb.service"]
    assert p.parse_failed_units("") == []
    assert p.parse_file_nr("1730\t0\t2466165\n") == (1730, 0, 2466165)
    assert p.parse_file_nr("garbage") is None
    assert p.parse_cpuinfo(s.CPUINFO_2x2) == ("Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz", 2)
    assert p.os_name(p.parse_os_release(s.OS_RELEASE_CENTOS), None) == "CentOS Linux 7 (Core)"
    assert p.os_name({}, p.parse_uname(s.UNAME_BUSYBOX)) == "Linux 5.15.134"
    assert load_samples((1.0, 2.0, 4.0), 4)[-1] == Sample("load.load15_per_core", 1.0)
    assert load_samples((1.0, 2.0, 4.0), None)[-1] == Sample("load.load15", 4.0)


# ------------------------------------------------------------------------------------ this machine


def test_local_memory_matches_psutil() -> None:
    values = {x.name: x.value for x in p.memory_samples(p.parse_meminfo(local("meminfo")))}
    assert values["mem.total_bytes"] == psutil.virtual_memory().total
    assert values["swap.total_bytes"] == psutil.swap_memory().total


def test_local_disks_match_the_agent() -> None:
    filesystems = p.real_filesystems(p.parse_df(local("df")), p.parse_df_inodes(local("df_inodes")),
                                     p.parse_mounts(local("mounts")))
    agent = [x for x in DiskCollector().collect() if x.name == "disk.total_bytes"]
    assert {(f.mount, f.device, f.fstype) for f in filesystems} == {
        (dict(x.labels)["mount"], dict(x.labels)["device"], dict(x.labels)["fstype"]) for x in agent}
    ours = by_name(p.disk_samples(filesystems))
    for x in agent:  # df rounds to KiB blocks
        assert ours[("disk.total_bytes", x.labels)] == pytest.approx(x.value, abs=1024)


def test_local_identity_matches_the_agent() -> None:
    u = p.parse_uname(local("uname"))
    assert u is not None and (u.release, u.machine) == (platform.release(), platform.machine())
    assert p.parse_nproc(local("nproc")) == len(os.sched_getaffinity(0))
    stat = p.parse_proc_stat(local("stat"))
    assert stat is not None and stat.cpus == psutil.cpu_count() and stat.boot_time == psutil.boot_time()
    assert p.os_name(p.parse_os_release(local("os_release")), u) == os_name(read_os_release())
    assert p.parse_cpuinfo(local("cpuinfo"))[0] == cpu_model()
    file_nr = p.parse_file_nr(local("file_nr"))
    assert file_nr is not None
    fd_max = {x.name: x.value for x in FdCollector().collect()}["fd.max"]
    assert {x.name: x.value for x in p.fd_samples(file_nr)}["fd.max"] == fd_max


def test_local_load_matches_os() -> None:
    before = os.getloadavg()
    parsed = p.parse_loadavg(local("loadavg"))
    after = os.getloadavg()
    assert parsed is not None
    for b, v, a in zip(before, parsed, after, strict=True):
        assert min(a, b) - 0.01 <= v <= max(a, b) + 0.01


def test_local_interfaces_match_the_agent() -> None:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is not installed here")
    before = psutil.net_io_counters(pernic=True)
    links = p.parse_ip_link(local("net"))
    after = psutil.net_io_counters(pernic=True)
    counters = p.net_counters(links)
    agent_facts = {i.name: i for i in _interfaces()}
    assert set(counters) == set(agent_facts)  # loopback excluded on both sides
    for name, values in counters.items():
        rx_bytes = values[p.NET_COUNTERS.index("rx_bytes")]
        assert before[name].bytes_recv <= rx_bytes <= after[name].bytes_recv
    addresses = p.parse_ip_addr(local("addresses"))
    for name, iface in agent_facts.items():
        assert sorted(addresses.get(name, [])) == sorted(iface.addresses)
        assert links[name].mtu == iface.mtu


def test_local_tcp_table() -> None:
    counts = p.parse_proc_net_tcp(local("tcp"))
    assert counts is not None
    psutil_listen = sum(1 for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN)
    # Listeners of other processes come and go during the test run; the table sees this machine's.
    assert counts["listen"] >= 1 and abs(counts["listen"] - psutil_listen) <= 5
