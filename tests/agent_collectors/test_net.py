from __future__ import annotations

import collections

import psutil
import pytest

from agent.collectors.net import NetCollector
from tests.agent_collectors.helpers import ManualClock, assert_catalogued, by_key

# Same fields as psutil's snetio / snicstats.
NetIo = collections.namedtuple("NetIo", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout")
IfStats = collections.namedtuple("IfStats", "isup duplex speed mtu flags")
OldIfStats = collections.namedtuple("OldIfStats", "isup duplex speed mtu")  # psutil < 5.9.3: no flags


def _per_interface(samples: list) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for (name, labels), value in by_key(samples).items():
        result[dict(labels)["interface"]][name] = value
    return dict(result)


def _stats(**flags: str) -> dict[str, IfStats]:
    return {name: IfStats(True, 0, 1000, 1500, f) for name, f in flags.items()}


def test_rates_and_totals(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    rounds = iter(
        [
            {"eth0": NetIo(1000, 5000, 10, 50, 1, 2, 3, 4), "lo": NetIo(9, 9, 9, 9, 0, 0, 0, 0)},
            {"eth0": NetIo(3000, 25000, 30, 90, 1, 4, 3, 8), "lo": NetIo(99, 99, 99, 99, 0, 0, 0, 0)},
        ]
    )
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic=False, nowrap=True: next(rounds))
    monkeypatch.setattr(psutil, "net_if_stats", lambda: _stats(eth0="up,broadcast", lo="up,loopback,running"))
    net = NetCollector(clock=clock)
    first = _per_interface(net.collect())
    assert first == {
        "eth0": {
            "net.rx_errors_total": 1.0,
            "net.tx_errors_total": 2.0,
            "net.rx_drops_total": 3.0,
            "net.tx_drops_total": 4.0,
        }
    }
    clock.advance(10)
    samples = net.collect()
    assert_catalogued(samples)
    assert _per_interface(samples) == {
        "eth0": {
            "net.rx_bytes_per_s": 2000.0,
            "net.tx_bytes_per_s": 200.0,
            "net.rx_packets_per_s": 4.0,
            "net.tx_packets_per_s": 2.0,
            "net.rx_errors_per_s": 0.0,
            "net.tx_errors_per_s": 0.2,
            "net.rx_drops_per_s": 0.0,
            "net.tx_drops_per_s": 0.4,
            "net.rx_errors_total": 1.0,
            "net.tx_errors_total": 4.0,
            "net.rx_drops_total": 3.0,
            "net.tx_drops_total": 8.0,
        }
    }


def test_loopback_by_name_when_flags_are_unknown(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    counters = {
        name: NetIo(0, 0, 0, 0, 0, 0, 0, 0) for name in ("lo", "lo0", "Loopback Pseudo-Interface 1", "en0", "local0")
    }
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic=False, nowrap=True: counters)
    monkeypatch.setattr(psutil, "net_if_stats", lambda: {name: OldIfStats(True, 0, 0, 1500) for name in counters})
    assert set(_per_interface(NetCollector(clock=clock).collect())) == {"en0", "local0"}


def test_ignore_interfaces_globs(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    counters = {name: NetIo(0, 0, 0, 0, 0, 0, 0, 0) for name in ("eth0", "veth12ab", "docker0", "br-1")}
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic=False, nowrap=True: counters)
    monkeypatch.setattr(psutil, "net_if_stats", lambda: _stats(**{name: "up" for name in counters}))
    net = NetCollector(ignore_interfaces=("veth*", "docker?"), clock=clock)
    assert set(_per_interface(net.collect())) == {"eth0", "br-1"}


def test_interfaces_that_come_and_go(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    rounds = iter(
        [
            {"eth0": NetIo(0, 0, 0, 0, 0, 0, 0, 0)},
            {"eth0": NetIo(10, 10, 1, 1, 0, 0, 0, 0), "veth1": NetIo(5, 5, 5, 5, 0, 0, 0, 0)},
            {"eth0": NetIo(20, 20, 2, 2, 0, 0, 0, 0)},
            {"eth0": NetIo(0, 0, 0, 0, 0, 0, 0, 0)},  # interface recreated: counters restarted
        ]
    )
    asked: list[int] = []

    def if_stats() -> dict[str, IfStats]:
        asked.append(1)
        return _stats(eth0="up", veth1="up")

    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic=False, nowrap=True: next(rounds))
    monkeypatch.setattr(psutil, "net_if_stats", if_stats)
    net = NetCollector(clock=clock)
    net.collect()
    clock.advance(1)
    second = _per_interface(net.collect())
    assert second["eth0"]["net.rx_bytes_per_s"] == 10.0
    assert "net.rx_bytes_per_s" not in second["veth1"]  # new: totals only
    clock.advance(1)
    assert set(_per_interface(net.collect())) == {"eth0"}
    clock.advance(1)
    assert "net.rx_bytes_per_s" not in _per_interface(net.collect())["eth0"]
    # Flags are looked up only when an unseen name appears.
    assert len(asked) == 2


def test_real_interfaces_rates_match_counter_deltas(clock: ManualClock) -> None:
    net = NetCollector(clock=clock)
    before = psutil.net_io_counters(pernic=True)
    first = _per_interface(net.collect())
    middle = psutil.net_io_counters(pernic=True)
    clock.advance(10)
    samples = net.collect()
    after = psutil.net_io_counters(pernic=True)
    assert_catalogued(samples)
    stats = psutil.net_if_stats()
    loopbacks = {name for name, st in stats.items() if "loopback" in st.flags.split(",")}
    assert loopbacks, "this machine has a loopback interface"
    assert not loopbacks & set(first)
    assert set(first) == set(before) - loopbacks
    for name, v in _per_interface(samples).items():
        b, m, a = before[name], middle[name], after[name]
        assert b.errin <= first[name]["net.rx_errors_total"] <= m.errin
        assert m.dropout <= v["net.tx_drops_total"] <= a.dropout
        for field, series in (("bytes_recv", "net.rx_bytes_per_s"), ("packets_sent", "net.tx_packets_per_s")):
            delta = v[series] * 10
            assert 0 <= delta <= getattr(a, field) - getattr(b, field), (name, series)
