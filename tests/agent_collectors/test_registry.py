from __future__ import annotations

import time

import pytest

from agent.collectors import REGISTRY, build_collectors
from agent.model import Collector
from inspections.catalogue import catalogue
from tests.agent_collectors.helpers import assert_catalogued, by_key

EXPECTED = ["cpu", "load", "memory", "disk", "diskio", "net", "tcp", "procs", "top", "uptime", "sensors", "fd"]


def catalogued_intervals() -> dict[str, float]:
    """Collector name -> default interval, from the metric catalogue's groups."""
    return {g.collector: g.interval_s for g in catalogue().groups if g.collector and g.interval_s}


def test_registry_lists_every_collector_under_its_own_name() -> None:
    assert list(REGISTRY) == EXPECTED
    for name, cls in REGISTRY.items():
        assert cls.name == name
        assert isinstance(cls(), Collector)


def test_default_intervals_match_the_catalogue() -> None:
    intervals = catalogued_intervals()
    assert set(intervals) == set(EXPECTED)
    for name, cls in REGISTRY.items():
        assert cls.default_interval == intervals[name], name


def test_empty_config_enables_everything_with_default_intervals() -> None:
    built = build_collectors({})
    assert [c.name for c, _ in built] == EXPECTED
    assert all(interval == type(c).default_interval for c, interval in built)


def test_disable_and_override_interval() -> None:
    built = dict(
        (c.name, interval)
        for c, interval in build_collectors(
            {"sensors": {"enabled": False}, "cpu": {"interval": 5}, "disk": None, "fd": {"enabled": True}}
        )
    )
    assert "sensors" not in built
    assert built["cpu"] == 5.0
    assert built["disk"] == 10.0
    assert built["fd"] == 60.0


def test_options_reach_the_collector() -> None:
    ((top, interval),) = [(c, i) for c, i in build_collectors({"top": {"limit": 2, "interval": 30}}) if c.name == "top"]
    assert interval == 30.0
    names = {dict(s.labels)["process"] for s in top.collect()}
    assert 1 <= len(names) <= 2


def test_unknown_collector_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown collector\(s\) 'cpux', 'gpu'.*known collectors: cpu"):
        build_collectors({"cpux": {}, "gpu": {"enabled": False}})


def test_unknown_option_is_named_with_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match=r"collectors\.top: unknown option 'lmit'; valid options: enabled, interval, limit"
    ):
        build_collectors({"top": {"lmit": 5}})
    with pytest.raises(ValueError, match=r"collectors\.cpu: unknown option 'percpu'"):
        build_collectors({"cpu": {"percpu": True}})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"top": {"limit": 0}}, r"collectors\.top\.limit: expected a whole number >= 1, got 0"),
        ({"top": {"limit": True}}, r"collectors\.top\.limit: expected a whole number"),
        ({"top": {"limit": "10"}}, r"collectors\.top\.limit: expected a whole number"),
        ({"disk": {"ignore_fstypes": "nfs"}}, r"collectors\.disk\.ignore_fstypes: expected a list of strings"),
        ({"net": {"ignore_interfaces": ["veth*", 3]}}, r"collectors\.net\.ignore_interfaces: .*\[3\]"),
        ({"cpu": {"interval": 0}}, r"collectors\.cpu\.interval: expected a number of seconds > 0, got 0"),
        ({"cpu": {"interval": -5}}, r"collectors\.cpu\.interval"),
        ({"cpu": {"interval": "10s"}}, r"collectors\.cpu\.interval"),
        ({"cpu": {"interval": True}}, r"collectors\.cpu\.interval"),
        ({"cpu": {"interval": float("inf")}}, r"collectors\.cpu\.interval"),
        ({"cpu": {"enabled": "yes"}}, r"collectors\.cpu\.enabled: expected true or false, got 'yes'"),
        ({"cpu": ["enabled"]}, r"collectors\.cpu: expected a mapping"),
    ],
)
def test_bad_values_are_rejected(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_collectors(config)


def test_disabled_collectors_are_still_validated() -> None:
    with pytest.raises(ValueError, match=r"collectors\.top\.limit"):
        build_collectors({"top": {"enabled": False, "limit": -1}})


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ValueError) as info:
        build_collectors({"nope": {}, "top": {"limit": 0}, "disk": {"interval": 0, "foo": 1}})
    message = str(info.value)
    for part in ("'nope'", "collectors.top.limit", "collectors.disk.interval", "unknown option 'foo'"):
        assert part in message


def test_constructors_take_keywords_only() -> None:
    with pytest.raises(TypeError):
        REGISTRY["top"](5)


def test_a_full_round_uses_only_catalogued_series() -> None:
    built = build_collectors({})
    for collector, _ in built:
        collector.collect()
    time.sleep(0.05)  # rates need the kernel's counters to move between the two rounds
    samples = [s for collector, _ in built for s in collector.collect()]
    assert_catalogued(samples)
    by_key(samples)  # no series twice
    groups = {s.name.split(".")[0] for s in samples}
    assert {"cpu", "load", "mem", "swap", "disk", "net", "tcp", "procs", "top", "system"} <= groups
