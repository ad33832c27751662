"""SSH inspection against a real OpenSSH server on loopback, through the real ingest path."""

from __future__ import annotations

import asyncio
import os
import platform
import re
import socket
import subprocess
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from agent.collectors.disk import DiskCollector
from agent.collectors.tcp import STATES
from collector.ssh.client import SshPool
from collector.ssh.findings import ssh_findings
from collector.ssh.poller import EPOCH
from collector.ssh.state import load_statuses
from collector.store.schema import agent_streams
from tests.ssh.conftest import Store, TargetFactory, make_poller
from tests.ssh.sshd import SshServer, keygen

Key = tuple[str, tuple[tuple[str, str], ...]]


def openssh_fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], capture_output=True, text=True,
                         check=True).stdout
    match = re.search(r"SHA256:\S+", out)
    assert match, out
    return match.group(0)


def names(latest: dict[Key, float]) -> set[str]:
    return {name for name, _ in latest}


def test_inspection_yields_the_agents_series_and_facts(sshd: SshServer, store: Store,
                                                       make_target: TargetFactory) -> None:
    target = make_target(sshd)
    poller = make_poller(store, target)
    first = poller.poll(target)
    second = poller.poll(target)
    assert first is not None and second is not None
    assert (first.state, second.state) == ("ok", "ok"), (first.error, second.error)
    assert (first.facts, second.facts) == (True, False)  # inventory once per connection (and per facts_interval)
    assert poller.pool.connects == 1  # the second poll reused the pooled connection

    latest = store.latest(target.host_id)
    value = {name: v for (name, labels), v in latest.items() if not labels}
    # Values that do not move are compared exactly with what this machine reports locally.
    assert value["mem.total_bytes"] == psutil.virtual_memory().total
    assert value["swap.total_bytes"] == psutil.swap_memory().total
    assert value["system.boot_time_seconds"] == psutil.boot_time()
    assert value["system.uptime_seconds"] > 0
    assert 0.0 <= value["cpu.busy_percent"] <= 100.0  # from /proc/stat deltas between the two polls
    assert value["load.load1_per_core"] == pytest.approx(value["load.load1"] / psutil.cpu_count())
    assert value["fd.max"] == int(Path("/proc/sys/fs/file-max").read_text().split()[0])
    assert (value["probe.ssh_up"], value["host.up"], value["probe.ssh_hostkey_ok"]) == (1.0, 1.0, 1.0)
    assert {"mem.used_percent", "mem.available_bytes", "load.load15", "cpu.iowait_percent"} <= names(latest)

    agent_disks = {x.labels for x in DiskCollector().collect() if x.name == "disk.used_percent"}
    assert {labels for name, labels in latest if name == "disk.used_percent"} == agent_disks
    interfaces = {labels for name, labels in latest if name == "net.rx_bytes_per_s"}
    assert interfaces == {(("interface", n),) for n in psutil.net_io_counters(pernic=True) if not n.startswith("lo")}
    tcp = {dict(labels)["state"]: v for (name, labels), v in latest.items() if name == "tcp.connections"}
    assert set(tcp) >= set(STATES) and tcp["listen"] >= 1  # sshd itself listens

    host = store.host(target.host_id)
    assert (host["source"], host["connected"], host["customer_id"]) == ("ssh", True, "acme")
    assert host["labels"] == {"role": "db"}
    facts = host["facts"]
    assert facts["hostname"] == socket.gethostname() == host["hostname"]
    assert facts["kernel"] == platform.release() and facts["arch"] == platform.machine()
    assert facts["cpu_count"] == psutil.cpu_count()
    assert int(facts["memory_bytes"]) == psutil.virtual_memory().total
    assert {d["mount"] for d in facts["disks"]} == {dict(labels)["mount"] for labels in agent_disks}
    assert facts["extra"]["collected_by"] == "ssh"

    with store.engine.connect() as conn:
        last_seq = conn.execute(select(agent_streams.c.last_seq).where(
            agent_streams.c.host_id == target.host_id, agent_streams.c.epoch == EPOCH)).scalar_one()
        status = load_statuses(conn)[target.host_id]
    assert second.seq > first.seq and last_seq == second.seq
    assert status.state == "ok" and status.consecutive_failures == 0 and status.last_error is None
    assert status.host_key == openssh_fingerprint(sshd.host_key.with_suffix(".pub"))


def test_seq_keeps_rising_when_the_clock_steps_back(sshd: SshServer, store: Store,
                                                    make_target: TargetFactory) -> None:
    target = make_target(sshd)
    times = iter([1_900_000_000.0, 1_899_999_990.0])
    poller = make_poller(store, target, clock=lambda: next(times))
    first, second = poller.poll(target), poller.poll(target)
    assert first is not None and second is not None
    assert second.seq == first.seq + 1  # not the (earlier) poll time: that would be dropped as a duplicate
    store.ingestor.flush_now()
    assert store.ingestor.stats["duplicates"] == 0
    # A restarted poller continues above the stored high-water mark.
    again = make_poller(store, target, clock=lambda: 1_899_999_000.0).poll(target)
    assert again is not None and again.seq == second.seq + 1


def test_a_new_lease_holder_polls_above_its_predecessors_seq(sshd: SshServer, store: Store,
                                                             make_target: TargetFactory) -> None:
    target = make_target(sshd)
    lease = {"token": 3}
    # A member of a group loaded the high-water marks at start, while another collector led.
    member = make_poller(store, target, clock=lambda: 1_899_999_000.0, lease_token=lambda: lease["token"])
    asyncio.run(member.start())
    first = make_poller(store, target, clock=lambda: 1_900_000_000.0).poll(target)  # the leader's poll
    assert first is not None
    store.ingestor.flush_now()
    lease["token"] = 4  # the lease changes hands: the member's scheduled poll reloads the marks first
    taken = member.scheduled_poll(target)
    assert taken is not None and taken.seq == first.seq + 1
    asyncio.run(member.stop())


def test_reconnects_when_the_pooled_connection_dies(own_sshd: SshServer, store: Store,
                                                    make_target: TargetFactory) -> None:
    target = make_target(own_sshd)
    poller = make_poller(store, target)
    assert poller.poll(target).state == "ok"  # type: ignore[union-attr]
    own_sshd.stop()  # kills the session process behind the pooled connection too
    own_sshd.start()
    report = poller.poll(target)
    assert report is not None and report.state == "ok", report
    # Two dials, or three when the first new session reached the restarting sshd too early.
    assert poller.pool.connects in (2, 3)
    assert poller.pool.open_connections() == 1


def test_changed_host_key_is_refused_and_reported(own_sshd: SshServer, store: Store, make_target: TargetFactory,
                                                  tmp_path: Path) -> None:
    target = make_target(own_sshd)
    recorded = target.known_hosts.read_text()
    poller = make_poller(store, target)
    ok = poller.poll(target)
    assert ok is not None and ok.state == "ok"
    seen_ms = store.host(target.host_id)["last_seen_ms"]
    old_fp = openssh_fingerprint(own_sshd.host_key.with_suffix(".pub"))

    own_sshd.change_host_key()
    new_fp = openssh_fingerprint(own_sshd.host_key.with_suffix(".pub"))
    report = poller.poll(target)
    assert report is not None and report.state == "hostkey_changed"
    assert report.error is not None and "HOST KEY CHANGED" in report.error
    assert old_fp in report.error and new_fp in report.error and "ssh-keygen -R" in report.error
    assert target.known_hosts.read_text() == recorded  # never rewritten

    latest = store.latest(target.host_id)
    assert latest[("probe.ssh_hostkey_ok", ())] == 0.0
    assert latest[("probe.ssh_up", ())] == 0.0 and latest[("host.up", ())] == 0.0
    host = store.host(target.host_id)
    assert host["connected"] is False and host["last_seen_ms"] == seen_ms  # not "seen" by a refused poll
    with store.engine.connect() as conn:
        status = load_statuses(conn)[target.host_id]
        findings = {f.check_id: f for f in ssh_findings(conn, [target.host_id])}
    assert status.state == "hostkey_changed" and new_fp in (status.last_error or "")
    assert findings["ssh.host_key"].status == "critical"
    assert findings["ssh.reachable"].status == "warning"
    assert "HOST KEY CHANGED" in (findings["ssh.reachable"].note or {})["en"]

    # accept-new does not mean accept-changed: a non-strict target refuses the new key as well.
    lenient = target.model_copy(update={"strict_known_hosts": False})
    assert make_poller(store, lenient).poll(lenient).state == "hostkey_changed"  # type: ignore[union-attr]
    assert target.known_hosts.read_text() == recorded

    # Once an operator records the new key, the target recovers.
    own_sshd.write_known_hosts(target.known_hosts)
    assert poller.poll(target).state == "ok"  # type: ignore[union-attr]


def test_unknown_host_refused_when_strict_recorded_when_not(sshd: SshServer, store: Store,
                                                            make_target: TargetFactory, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    strict = make_target(sshd, host_id="strict", known_hosts=empty)
    report = make_poller(store, strict).poll(strict)
    assert report is not None and report.state == "hostkey_unknown"
    assert "ssh-keyscan" in (report.error or "") and empty.read_text() == ""
    assert store.latest("strict")[("probe.ssh_hostkey_ok", ())] == 0.0

    fresh = tmp_path / "sub" / "known_hosts"
    lenient = make_target(sshd, host_id="lenient", known_hosts=fresh, strict_known_hosts=False)
    report = make_poller(store, lenient).poll(lenient)
    assert report is not None and report.state == "ok", report
    assert fresh.read_text() == sshd.known_hosts_line()  # recorded on first contact, as OpenSSH's accept-new
    now_strict = make_target(sshd, host_id="now-strict", known_hosts=fresh)
    assert make_poller(store, now_strict).poll(now_strict).state == "ok"  # type: ignore[union-attr]


def test_unreachable_port(sshd: SshServer, store: Store, make_target: TargetFactory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    target = make_target(sshd, host_id="gone", port=closed_port)
    poller = make_poller(store, target)
    reports = [poller.poll(target) for _ in range(3)]
    assert [r.state for r in reports if r is not None] == ["unreachable"] * 3
    assert "connection refused" in (reports[0].error or "") and f"127.0.0.1:{closed_port}" in (reports[0].error or "")
    latest = store.latest("gone")
    assert latest[("probe.ssh_up", ())] == 0.0
    assert ("probe.ssh_hostkey_ok", ()) not in latest  # the key was never checked
    host = store.host("gone")
    assert (host["source"], host["connected"], host["hostname"]) == ("ssh", False, "gone")
    with store.engine.connect() as conn:
        (reachable,) = ssh_findings(conn, ["gone"])
    assert reachable.check_id == "ssh.reachable" and reachable.status == "critical" and reachable.observed == 3


def test_silent_server_times_out(sshd: SshServer, store: Store, make_target: TargetFactory) -> None:
    with socket.socket() as silent:  # accepts TCP (the kernel does) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        target = make_target(sshd, host_id="silent", port=silent.getsockname()[1], timeout=0.5)
        report = make_poller(store, target).poll(target)
    assert report is not None and report.state == "unreachable"
    assert "no SSH server answered" in (report.error or "") or "no answer within" in (report.error or "")


def test_authentication_and_encrypted_keys(sshd: SshServer, store: Store, make_target: TargetFactory,
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stranger = keygen(tmp_path / "not_authorized")
    target = make_target(sshd, host_id="wrong-key", key_file=stranger)
    report = make_poller(store, target).poll(target)
    assert report is not None and report.state == "auth_failed" and "authorized_keys" in (report.error or "")
    assert store.latest("wrong-key")[("probe.ssh_hostkey_ok", ())] == 1.0  # checked before authenticating

    locked = keygen(tmp_path / "locked", passphrase="correct horse battery staple")
    with (sshd.dir / "authorized_keys").open("a") as f:
        f.write(locked.with_suffix(".pub").read_text())
    target = make_target(sshd, host_id="locked", key_file=locked, key_passphrase_env="PATROL_TEST_PASSPHRASE")
    monkeypatch.delenv("PATROL_TEST_PASSPHRASE", raising=False)
    report = make_poller(store, target).poll(target)
    assert report is not None and report.state == "key_error" and "PATROL_TEST_PASSPHRASE" in (report.error or "")
    monkeypatch.setenv("PATROL_TEST_PASSPHRASE", "wrong")
    report = make_poller(store, target).poll(target)
    assert report is not None and report.state == "key_error" and "wrong passphrase?" in (report.error or "")
    monkeypatch.setenv("PATROL_TEST_PASSPHRASE", "correct horse battery staple")
    report = make_poller(store, target).poll(target)
    assert report is not None and report.state == "ok", report
    assert "correct horse" not in repr(load_statuses(store.engine.connect()))


def test_command_timeout_and_output_cap_hold(sshd: SshServer, make_target: TargetFactory) -> None:
    pool = SshPool()
    conn, _ = pool.get(make_target(sshd))
    try:
        capped = conn.run(("cat", "/dev/zero"), timeout=30, max_output=65536)
        assert capped.truncated and len(capped.stdout) == 65536 and capped.exit_status is None
        for _ in range(40):  # channels closed while output is still arriving leave the connection usable
            assert conn.run(("cat", "/dev/zero"), timeout=30, max_output=4096).truncated
        slow = conn.run(("sleep", "30"), timeout=0.5, max_output=1024)
        assert slow.timed_out and slow.exit_status is None
        failed = conn.run(("cat", "/nonexistent/file"), timeout=10, max_output=1024)
        assert failed.exit_status == 1 and b"No such file" in failed.stderr
        after = conn.run(("echo", "still-usable"), timeout=10, max_output=1024)
        assert after.ok and after.stdout == b"still-usable\n" and pool.connects == 1
    finally:
        pool.close_all()


def test_processes_are_never_left_running(sshd: SshServer, make_target: TargetFactory) -> None:
    pool = SshPool()
    conn, _ = pool.get(make_target(sshd))
    marker = f"{os.getpid() % 1000 + 1}.{os.getpid() % 97}"  # an unusual sleep length to find it by
    try:
        assert conn.run(("sleep", marker), timeout=0.3, max_output=1024).timed_out
    finally:
        pool.close_all()

    def leftover() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[-1:] == [marker]]

    for _ in range(100):  # sshd reaps the session asynchronously once the channel closes
        if not leftover():
            break
        psutil.wait_procs(leftover(), timeout=0.05)
    assert not leftover()
