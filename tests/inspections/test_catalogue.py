"""The metric catalogue covers what the agent emits and the checks read, and its document is current."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.collectors.registry import build_collectors
from agent.footprint import FootprintCollector
from inspections.catalogue import CatalogueError, catalogue, display_name, limit_of, parse_catalogue
from inspections.catalogue_doc import render, rewrite
from inspections.checks.library import builtin_library

REPO = Path(__file__).resolve().parents[2]


def _agent_series() -> set[str]:
    """Every series the agent's collectors emit here, each run twice (rates need two readings).

    The rounds are a tenth of a second apart: CPU time advances in clock ticks, and two readings
    inside one tick have no delta to share out.
    """
    spool = SimpleNamespace(depth_batches=0, depth_bytes=0, dropped_batches=0, dropped_samples=0)
    collectors = [c for c, _ in build_collectors({})] + [FootprintCollector(lambda: spool)]
    names: set[str] = set()
    for round_ in range(2):
        if round_:
            time.sleep(0.1)
        for c in collectors:
            names.update(s.name for s in c.collect())
    return names


def test_every_series_the_agent_emits_is_in_the_catalogue() -> None:
    emitted = _agent_series()
    assert {"cpu.busy_percent", "mem.used_percent", "disk.used_percent", "agent.rss_bytes"} <= emitted
    missing = emitted - set(catalogue().metrics)
    assert not missing, f"series the agent emits but the catalogue lacks: {sorted(missing)}"


def test_every_series_a_check_definition_reads_is_in_the_catalogue() -> None:
    referenced = {name for check in builtin_library() for name in getattr(check.spec, "series", None) or ()}
    assert "disk.used_percent" in referenced
    missing = referenced - set(catalogue().metrics)
    assert not missing, f"series checks read but the catalogue lacks: {sorted(missing)}"


def test_the_metrics_document_is_generated_from_the_current_catalogue() -> None:
    doc = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert rewrite(doc, catalogue()) == doc, "run: python -m inspections.catalogue_doc docs/metrics.md"
    row = "| `mem.used_percent` |  | % | capacity, anomaly scored | ↑ 100 | Memory used | 内存使用率 |"
    assert row in render(catalogue())


def test_memory_has_one_capacity_figure_and_limits_come_from_the_catalogue() -> None:
    cat = catalogue()
    assert [n for n in cat.capacity_series() if n.startswith("mem.")] == ["mem.used_percent"]
    assert limit_of("mem.used_percent") == (100.0, "up")
    assert limit_of("disk.used_bytes") is None  # its limit is the total, unknown here
    assert limit_of("disk.used_bytes", {"disk.total_bytes": 5e11}) == (5e11, "up")
    assert limit_of("cpu.busy_percent") is None
    assert display_name("disk.used_percent", "zh") == "磁盘"
    assert display_name("not.catalogued") == "not.catalogued"
    assert cat["disk.used_percent"].subject_of({"mount": "/data", "device": "sda1"}) == "/data"


@pytest.mark.parametrize(("raw", "message"), [
    ({"groups": {"x": {"series": {"x.a": {"name": {"en": "A"}, "description": {"en": "a", "zh": "甲"}}}}}},
     "x.a.name: needs both en and zh"),
    ({"groups": {"x": {"series": {"y.a": {}}}}}, "must be named x.<field>"),
    ({"groups": {"x": {"series": {"x.a": {"kind": "capacity", "name": {"en": "A", "zh": "甲"},
                                          "description": {"en": "a", "zh": "甲"}}}}}},
     "needs a limit and a direction"),
    ({"groups": {"x": {"series": {"x.a": {"unitt": "%"}}}}}, "unknown field(s) unitt"),
])
def test_a_malformed_catalogue_names_the_series_and_the_field(raw: object, message: str) -> None:
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(raw)
    assert message in str(err.value)
