"""requirements.lock covers what pyproject.toml asks for, with hashes, and the project builds without warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")


def locked_pins(text: str) -> dict[str, tuple[str, int]]:
    """Each pinned package of a lock: its version and how many hashes it carries."""
    pins: dict[str, tuple[str, int]] = {}
    name = ""
    for line in text.splitlines():
        if m := PIN.match(line):
            name = canonicalize_name(m[1])
            pins[name] = (m[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def project_requirements(pyproject: dict[str, Any], extra: str = "dev") -> list[Requirement]:
    """The project's own requirements plus ``extra``'s, following self-references like ``patrol[collector]``."""
    project = pyproject["project"]
    own = canonicalize_name(project["name"])
    wanted, todo, seen = [Requirement(r) for r in project["dependencies"]], [extra], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for req in map(Requirement, project["optional-dependencies"][name]):
            if canonicalize_name(req.name) == own:
                todo.extend(req.extras)
            else:
                wanted.append(req)
    return wanted


def lock_problems(pyproject: dict[str, Any], lock_text: str) -> list[str]:
    pins = locked_pins(lock_text)
    problems = [f"{name}=={version} has no --hash" for name, (version, hashes) in pins.items() if not hashes]
    for req in project_requirements(pyproject):
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not in requirements.lock")
        elif not req.specifier.contains(pin[0], prereleases=True):
            problems.append(f"{req} does not admit the locked {req.name}=={pin[0]}")
    return problems


def test_lock_pins_every_requirement_with_hashes() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    problems = lock_problems(pyproject, (REPO / "requirements.lock").read_text())
    assert not problems, "requirements.lock is stale, run `make lock`: " + "; ".join(problems)


def test_a_requirement_added_without_relocking_is_reported() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    lock = (REPO / "requirements.lock").read_text()
    pyproject["project"]["optional-dependencies"]["dev"].append("hypothetical-plugin>=1")
    pyproject["project"]["optional-dependencies"]["collector"].append("numpy>=999")
    unhashed = lock.replace("pytest==", "pytest-unhashed==0\npytest==", 1)
    assert lock_problems(pyproject, unhashed) == [
        "pytest-unhashed==0 has no --hash",
        "hypothetical-plugin>=1 is not in requirements.lock",
        f"numpy>=999 does not admit the locked numpy=={locked_pins(lock)['numpy'][0]}",
    ]


def test_project_metadata_builds_without_warnings(tmp_path: Path) -> None:
    # The metadata comes from pyproject.toml alone; a copy keeps the build's files out of the work tree.
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "out").mkdir()
    build = subprocess.run(
        [sys.executable, "-W", "always", "-c",
         "import sys; from setuptools import build_meta; build_meta.prepare_metadata_for_build_wheel(sys.argv[1])",
         str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "Warning" not in build.stderr, build.stderr
    metadata = next((tmp_path / "out").glob("*.dist-info")) / "METADATA"
    assert "License-Expression: Apache-2.0" in metadata.read_text()
