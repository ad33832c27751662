from __future__ import annotations

import collections
import contextlib
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agent.collectors import tcp as tcp_module
from agent.collectors.sockdiag import parse_dump
from agent.collectors.tcp import STATES, TcpCollector
from tests.agent_collectors.helpers import assert_catalogued, by_key

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
TAIL = " 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1 0000000000000000 20 4 30 10 -1\n"
V4_LINE = "{sl:4d}: 0100007F:{port:04X} 0100007F:1F90 {st}" + TAIL
V6_LINE = "{sl:4d}: 00000000000000000000000001000000:{port:04X} 00000000000000000000000000000000:0000 {st}" + TAIL
Conn = collections.namedtuple("Conn", "fd family type laddr raddr status pid")


def _counts(samples: list) -> dict[str, float]:
    return {dict(labels)["state"]: value for (_, labels), value in by_key(samples).items()}


def _write_table(path: Path, line: str, states: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(line.format(sl=i, port=1000 + i, st=st, inode=5000 + i) for i, st in enumerate(states))
    path.write_text(HEADER + body)


def test_counts_from_proc_tables(tmp_path: Path) -> None:
    _write_table(tmp_path / "net" / "tcp", V4_LINE, ["0A", "01", "01", "06", "0C", "08"])
    _write_table(tmp_path / "net" / "tcp6", V6_LINE, ["0A", "01", "0b", "03"])
    samples = TcpCollector(proc_root=str(tmp_path)).collect()
    assert_catalogued(samples)
    counts = _counts(samples)
    assert set(counts) == set(STATES)
    assert counts == {
        "established": 3.0,
        "syn_sent": 0.0,
        "syn_recv": 2.0,  # SYN_RECV plus a pending request (NEW_SYN_RECV)
        "fin_wait1": 0.0,
        "fin_wait2": 0.0,
        "time_wait": 1.0,
        "close": 0.0,
        "close_wait": 1.0,
        "last_ack": 0.0,
        "listen": 2.0,
        "closing": 1.0,
    }


def test_ipv6_disabled_counts_ipv4_only(tmp_path: Path) -> None:
    _write_table(tmp_path / "net" / "tcp", V4_LINE, ["0A", "01"])
    counts = _counts(TcpCollector(proc_root=str(tmp_path)).collect())
    assert counts["listen"] == 1.0 and counts["established"] == 1.0


def test_without_proc_falls_back_to_psutil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conns = [
        Conn(3, socket.AF_INET, socket.SOCK_STREAM, None, None, psutil.CONN_LISTEN, None),
        Conn(4, socket.AF_INET6, socket.SOCK_STREAM, None, None, psutil.CONN_ESTABLISHED, None),
        Conn(5, socket.AF_INET, socket.SOCK_STREAM, None, None, "DELETE_TCB", None),  # Windows-only state
    ]
    monkeypatch.setattr(psutil, "net_connections", lambda kind="inet": conns)
    counts = _counts(TcpCollector(proc_root=str(tmp_path)).collect())
    assert counts["listen"] == 1.0
    assert counts["established"] == 1.0
    assert counts["delete_tcb"] == 1.0
    assert counts["time_wait"] == 0.0


def test_no_privileges_and_no_proc_reports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(kind: str = "inet") -> list[Conn]:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "net_connections", denied)
    assert TcpCollector(proc_root=str(tmp_path)).collect() == []


@contextlib.contextmanager
def _connected_pair(
    family: socket.AddressFamily, host: str
) -> Iterator[tuple[socket.socket, socket.socket, socket.socket]]:
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((host, 0))
    server.listen()
    client = socket.create_connection(server.getsockname()[:2])
    accepted, _ = server.accept()
    try:
        yield server, client, accepted
    finally:
        for s in (client, accepted, server):
            s.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not psutil.LINUX, reason="reads /proc/net/tcp")
def test_real_sockets_are_counted() -> None:
    tcp = TcpCollector()
    with contextlib.ExitStack() as stack:
        pairs = [stack.enter_context(_connected_pair(socket.AF_INET, "127.0.0.1"))]
        if _ipv6_loopback():
            pairs.append(stack.enter_context(_connected_pair(socket.AF_INET6, "::1")))
        samples = tcp.collect()
        assert_catalogued(samples)
        counts = _counts(samples)
        assert counts["listen"] >= len(pairs)
        assert counts["established"] >= 2 * len(pairs)  # both ends of each connection
        # The client closes first, so its side waits in TIME_WAIT once the server closes too.
        for _, client, accepted in pairs:
            client.close()
            accepted.close()
    assert _counts(tcp.collect())["time_wait"] >= len(pairs)


@pytest.mark.skipif(not psutil.LINUX, reason="reads /proc/net/tcp")
def test_real_counts_agree_with_psutil_within_our_own_connections() -> None:
    with _connected_pair(socket.AF_INET, "127.0.0.1"):
        ours = _counts(TcpCollector().collect())
        theirs = collections.Counter(c.status.lower() for c in psutil.net_connections(kind="tcp"))
    # Other connections on the machine may open or close between the two readings.
    assert abs(ours["established"] - theirs["established"]) <= 5
    assert abs(ours["listen"] - theirs["listen"]) <= 5


def _nlmsg(kind: int, body: bytes) -> bytes:
    length = 16 + len(body)
    return struct.pack("=IHHII", length, kind, 2, 1, 0) + body + bytes(-length % 4)


def test_sock_diag_dump_is_counted_by_state_across_messages() -> None:
    # inet_diag_msg starts with family and state; a time-wait entry is shorter than a full socket.
    established = _nlmsg(20, bytes([socket.AF_INET, 1]) + bytes(70))
    time_wait = _nlmsg(20, bytes([socket.AF_INET6, 6]) + bytes(61))
    counts: collections.Counter[int] = collections.Counter()
    assert not parse_dump(established + time_wait + established, counts)
    assert parse_dump(time_wait + _nlmsg(3, bytes(4)), counts)
    assert counts == {1: 2, 6: 2}


def test_sock_diag_error_message_is_an_oserror() -> None:
    with pytest.raises(OSError, match="sock_diag"):
        parse_dump(_nlmsg(2, struct.pack("=i", -22) + bytes(16)), collections.Counter())


@pytest.mark.skipif(not psutil.LINUX, reason="netlink sock_diag and /proc/net/tcp are Linux's")
def test_netlink_counts_equal_proc_net_tcp_on_this_machine() -> None:
    netlink, files = TcpCollector(), TcpCollector(proc_root="/proc")
    assert netlink._netlink and not files._netlink
    with contextlib.ExitStack() as stack:
        for family, host in [(socket.AF_INET, "127.0.0.1")] + ([(socket.AF_INET6, "::1")] if _ipv6_loopback() else []):
            stack.enter_context(_connected_pair(family, host))
        # A pair closed by the client leaves a TIME_WAIT entry behind.
        with _connected_pair(socket.AF_INET, "127.0.0.1") as (_, client, accepted):
            client.close()
            accepted.close()
        # Other processes on the machine open and close connections: compare a netlink reading
        # taken between two equal readings of the files.
        for _ in range(50):
            before = _counts(files.collect())
            ours = _counts(netlink.collect())
            after = _counts(files.collect())
            if before == after:
                break
        else:
            pytest.fail("the machine's TCP connections never held still for three readings")
    assert netlink._netlink, "netlink sock_diag failed on this machine"
    assert ours == before
    assert ours["listen"] >= 1 and ours["established"] >= 2 and ours["time_wait"] >= 1


def test_no_netlink_reading_falls_back_to_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_table(tmp_path / "net" / "tcp", V4_LINE, ["0A", "01"])
    monkeypatch.setattr(tcp_module, "tcp_state_counts", lambda: None)
    collector = TcpCollector()
    collector._netlink, collector._proc_root = True, str(tmp_path)
    counts = _counts(collector.collect())
    assert (counts["listen"], counts["established"]) == (1.0, 1.0)
    assert not collector._netlink
