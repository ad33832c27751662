"""Which collectors exist, and building the enabled ones from the agent's config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from agent.collectors.cpu import CpuCollector
from agent.collectors.disk import DiskCollector
from agent.collectors.diskio import DiskIoCollector
from agent.collectors.fd import FdCollector
from agent.collectors.load import LoadCollector
from agent.collectors.memory import MemoryCollector
from agent.collectors.net import NetCollector
from agent.collectors.options import OptionSpec
from agent.collectors.procs import ProcsCollector
from agent.collectors.sensors import SensorsCollector
from agent.collectors.tcp import TcpCollector
from agent.collectors.top import TopCollector
from agent.collectors.uptime import UptimeCollector
from agent.model import Collector


class CollectorClass(Protocol):
    """A collector class: what the registry needs before there is an instance."""

    name: str
    default_interval: float
    options: OptionSpec

    def __call__(self, *args: Any, **options: Any) -> Collector: ...


# Collector name -> class. Each class has `name`, `default_interval` and `options` (option name ->
# validator); adding a source means adding its module and one entry here.
REGISTRY: dict[str, CollectorClass] = {
    cls.name: cls
    for cls in (
        CpuCollector,
        LoadCollector,
        MemoryCollector,
        DiskCollector,
        DiskIoCollector,
        NetCollector,
        TcpCollector,
        ProcsCollector,
        TopCollector,
        UptimeCollector,
        SensorsCollector,
        FdCollector,
    )
}

_COMMON = ("enabled", "interval")


def build_collectors(config: Mapping[str, Mapping[str, object] | None]) -> list[tuple[Collector, float]]:
    """Instantiate every enabled collector with its options, in registry order.

    ``config`` maps collector name to ``{"enabled": bool, "interval": seconds, **options}``; a
    collector without an entry runs with its default interval. Every problem found (unknown
    collector, unknown option, bad value) is reported in one ``ValueError``.
    """
    problems: list[str] = []
    unknown = sorted(set(config) - set(REGISTRY))
    if unknown:
        problems.append(
            f"unknown collector(s) {', '.join(map(repr, unknown))}; known collectors: {', '.join(REGISTRY)}"
        )
    built: list[tuple[Collector, float]] = []
    for name, cls in REGISTRY.items():
        entry = _settings(name, config.get(name), cls, problems)
        if entry is not None:
            built.append(entry)
    if problems:
        raise ValueError("invalid collectors config: " + "; ".join(problems))
    return built


def _settings(
    name: str, section: Mapping[str, object] | None, cls: CollectorClass, problems: list[str]
) -> tuple[Collector, float] | None:
    section = section or {}
    if not isinstance(section, Mapping):
        problems.append(f"collectors.{name}: expected a mapping of settings, got {section!r}")
        return None
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"collectors.{name}.enabled: expected true or false, got {enabled!r}")
    interval = section.get("interval", cls.default_interval)
    seconds = _seconds(interval)
    if seconds is None:
        problems.append(f"collectors.{name}.interval: expected a number of seconds > 0, got {interval!r}")
    options: dict[str, object] = {}
    for key, value in section.items():
        if key in _COMMON:
            continue
        validator = cls.options.get(key)
        if validator is None:
            valid = ", ".join([*_COMMON, *cls.options])
            problems.append(f"collectors.{name}: unknown option {key!r}; valid options: {valid}")
            continue
        try:
            options[key] = validator(value)
        except ValueError as exc:
            problems.append(f"collectors.{name}.{key}: {exc}")
    if problems or enabled is not True or seconds is None:
        return None
    return cls(**options), seconds


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if 0 < seconds < float("inf") else None
