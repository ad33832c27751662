"""Diagnostics over SSH against the real server: streamed, bounded, on the pooled connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.ssh.actions import ActionDenied
from tests.ssh.conftest import Store, TargetFactory, make_poller
from tests.ssh.sshd import SshServer


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "usage"
    for name, size in (("big", 3 * 2**20), ("medium", 2**20), ("small", 64 * 1024)):
        (root / name).mkdir(parents=True)
        (root / name / "data.bin").write_bytes(b"\1" * size)  # not sparse: du counts written blocks
    return root


def text(stream: object) -> str:
    return b"".join(stream).decode()  # type: ignore[call-overload]


def test_actions_stream_and_share_the_pooled_connection(sshd: SshServer, store: Store, make_target: TargetFactory,
                                                        tree: Path) -> None:
    target = make_target(sshd, du_paths=[str(tree)])
    poller = make_poller(store, target)
    assert poller.poll(target).state == "ok"  # type: ignore[union-attr]

    top = poller.run_action(target.host_id, "top_processes", {"limit": "3", "sort": "mem"})
    lines = text(top).splitlines()
    assert top.status == "ok", top.error
    assert len(lines) == 4 and lines[0].split()[:3] == ["PID", "USER", "%CPU"]

    du = poller.run_action(target.host_id, "disk_usage", {"path": str(tree), "depth": "1", "limit": "3"})
    rows = [line.split()[-1] for line in text(du).splitlines()[1:]]
    assert du.status == "ok", du.error
    assert rows == [str(tree), str(tree / "big"), str(tree / "medium")]  # largest first, limit respected

    ports = poller.run_action(target.host_id, "listening_ports", {})
    assert f"127.0.0.1:{sshd.port}" in text(ports) and ports.status == "ok"

    snapshot = poller.run_action(target.host_id, "system_snapshot", {})
    out = text(snapshot)
    assert snapshot.status == "ok", snapshot.error
    for expected in ("mem.total_bytes ", "cpu.busy_percent ", "disk.used_percent{", "tcp.connections{",
                     "# top processes by CPU", "PID"):
        assert expected in out
    assert poller.pool.connects == 1  # polls and diagnostics on one connection


def test_action_limits(sshd: SshServer, store: Store, make_target: TargetFactory) -> None:
    target = make_target(sshd)
    poller = make_poller(store, target)
    capped = poller.run_action(target.host_id, "listening_ports", {}, max_output=200)
    assert len(b"".join(capped)) == 200 and capped.status == "truncated" and capped.total_bytes == 200

    stopped = poller.run_action(target.host_id, "top_processes", {"limit": "100"})
    next(stopped)
    stopped.close()  # the requester went away
    assert stopped.status == "cancelled"

    with pytest.raises(ActionDenied):
        poller.run_action(target.host_id, "disk_usage", {"path": "/root", "depth": "1"})
    with pytest.raises(KeyError, match="not an SSH target"):
        poller.run_action("elsewhere", "listening_ports", {})


def test_action_on_an_unreachable_target_reports_the_error(sshd: SshServer, store: Store,
                                                           make_target: TargetFactory, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    target = make_target(sshd, host_id="unknown-key", known_hosts=empty)
    stream = make_poller(store, target).run_action(target.host_id, "listening_ports", {})
    assert b"".join(stream) == b""
    assert stream.status == "error" and "not in" in (stream.error or "")
