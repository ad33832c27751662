from __future__ import annotations

from agent.probes.tcp_connect import TcpProbe
from tests.agent_collectors.helpers import assert_catalogued
from tests.agent_probes.servers import closed_port, ipv6_loopback, listening


def run(targets: list[str], timeout: float = 5.0) -> dict[str, dict[str, float]]:
    samples = TcpProbe(targets, timeout=timeout).collect()
    assert_catalogued(samples)
    result: dict[str, dict[str, float]] = {}
    for s in samples:
        result.setdefault(dict(s.labels)["target"], {})[s.name.removeprefix("probe.tcp_")] = s.value
    return result


def test_open_port_is_up_with_latency_and_closed_port_is_down_without() -> None:
    closed = f"127.0.0.1:{closed_port()}"
    with listening() as port:
        target = f"127.0.0.1:{port}"
        result = run([target, closed])
    assert result[target]["up"] == 1.0 and result[target]["latency_ms"] >= 0.0
    assert result[closed] == {"up": 0.0}


def test_names_and_ipv6_literals_resolve() -> None:
    with listening() as port:
        assert run([f"localhost:{port}"])[f"localhost:{port}"]["up"] == 1.0
    if ipv6_loopback():
        with listening("::1") as port:
            assert run([f"[::1]:{port}"])[f"[::1]:{port}"]["up"] == 1.0


def test_unresolvable_host_is_down() -> None:
    assert run(["no-such-host.invalid:443"], timeout=1.0) == {"no-such-host.invalid:443": {"up": 0.0}}


def test_unroutable_address_times_out_as_down() -> None:
    # TEST-NET-1 (RFC 5737) is never routed: the connect hangs until the timeout (or fails at once
    # where there is no route at all); either way it is down and collect() returns.
    assert run(["192.0.2.1:443"], timeout=0.2) == {"192.0.2.1:443": {"up": 0.0}}
