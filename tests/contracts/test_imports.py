"""The import rules of docs/architecture.md hold, and the checks would catch a break.

The rules are import-linter contracts in pyproject.toml (the agent stays small; inspections and
reports are pure; the collector's core reaches optional features only through the registry) plus
one rule import-linter has no contract type for: the collector's parts (each subpackage, each
top-level module) import each other without cycles.
"""

from __future__ import annotations

import graphlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "collector", "inspections", "reports", "protos")
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def part_of(module: str) -> str:
    """``collector.tickets.sla`` -> ``collector.tickets``; ``collector.app`` stays itself."""
    return ".".join(module.split(".")[:2])


def part_cycle(graph: grimp.ImportGraph, package: str = "collector") -> list[str] | None:
    """A cycle among the parts of ``package`` (as a list of parts), or None when there is none."""
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        if not module.startswith(package + "."):
            continue
        part = part_of(module)
        edges.setdefault(part, set())
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith(package + ".") and part_of(imported) != part:
                edges[part].add(part_of(imported))
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as e:
        return list(e.args[1])
    return None


def lint(root: Path) -> tuple[bool, str]:
    """Run the pyproject contracts on the packages under ``root``: (all kept, report)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run([LINT_IMPORTS, "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode == 0, proc.stdout + proc.stderr


def copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_contracts_of_the_repository_hold() -> None:
    kept, report = lint(ROOT)
    assert kept, report
    assert "3 kept, 0 broken" in report


@pytest.mark.parametrize(("where", "line", "contract"), [
    ("agent/leak.py", "import sqlalchemy\n", "The agent imports only protos"),
    ("agent/leak.py", "from collector import metrics\n", "The agent imports only protos"),
    ("inspections/leak.py", "import collector.store.schema\n", "inspections and reports take plain data"),
    ("reports/leak.py", "from sqlalchemy import select\n", "inspections and reports take plain data"),
    ("collector/store/leak.py", "from collector.tickets import sla\n", "The collector's core reaches"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, where: str, line: str, contract: str) -> None:
    root = copy_tree(tmp_path)
    (root / where).write_text(line)
    kept, report = lint(root)
    assert not kept
    broken = [block for block in report.split("\n\n") if "BROKEN" in block]
    assert any(contract in block.replace("\n", "") for block in broken), report


def test_collector_parts_import_each_other_without_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    assert part_cycle(graph) is None


def test_a_cycle_between_a_feature_and_the_core_is_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("collector", "collector.app", "collector.tickets", "collector.tickets.sla", "collector.store",
                   "collector.store.schema"):
        graph.add_module(module)
    graph.add_import(importer="collector.tickets.sla", imported="collector.store.schema")
    graph.add_import(importer="collector.app", imported="collector.store.schema")
    assert part_cycle(graph) is None
    graph.add_import(importer="collector.store.schema", imported="collector.tickets.sla")
    cycle = part_cycle(graph)
    assert cycle is not None and set(cycle) == {"collector.store", "collector.tickets"}
