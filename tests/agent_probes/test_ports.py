from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from agent.probes.ports import PortProbe
from tests.agent_collectors.helpers import assert_catalogued
from tests.agent_probes.servers import closed_port, ipv6_loopback, listening


def states(probe: PortProbe) -> dict[str, float]:
    samples = probe.collect()
    assert_catalogued(samples)
    return {dict(s.labels)["port"]: s.value for s in samples}


def test_listening_and_closed_ports_on_loopback() -> None:
    closed = closed_port()
    with listening("127.0.0.1") as port:
        assert states(PortProbe([port, closed])) == {str(port): 1.0, str(closed): 0.0}
    assert states(PortProbe([port])) == {str(port): 0.0}


@pytest.mark.ci_may_skip
@pytest.mark.skipif(not ipv6_loopback(), reason="IPv6 is disabled on this host")
def test_ipv6_only_listener_counts() -> None:
    with listening("::1") as port:
        assert states(PortProbe([port])) == {str(port): 1.0}


def test_connected_sockets_do_not_count_as_listening(tmp_path: Path) -> None:
    net = tmp_path / "net"
    net.mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    tail = " 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 20 4 30 10 -1\n"
    (net / "tcp").write_text(
        header
        + "   0: 00000000:0016 00000000:0000 0A"
        + tail  # 22 listening on 0.0.0.0
        + "   1: 0100007F:1F90 0100007F:A000 01"
        + tail  # 8080 only as an established connection
    )
    (net / "tcp6").write_text(
        header + "   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A" + tail
    )
    assert states(PortProbe([22, 443, 8080], proc_root=str(tmp_path))) == {"22": 1.0, "443": 1.0, "8080": 0.0}


def test_psutil_fallback_without_proc(tmp_path: Path) -> None:
    with listening() as port:
        assert states(PortProbe([port], proc_root=str(tmp_path))) == {str(port): 1.0}


def test_unknown_rather_than_closed_when_sockets_cannot_be_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(kind: str = "inet") -> list[object]:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "net_connections", denied)
    assert PortProbe([22], proc_root=str(tmp_path)).collect() == []
