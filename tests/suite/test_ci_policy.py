"""The suite's CI rule (tests/conftest.py) holds when the suite runs in parallel workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

SAMPLE = '''
import pytest

def test_passes():
    pass

def test_needs_a_server():
    pytest.skip("no server here")

@pytest.mark.ci_may_skip
def test_needs_a_platform():
    pytest.skip("no systemd here")
'''


def run_sample(tmp_path: Path, ci: bool) -> str:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CI"))}
    if ci:
        env["CI"] = "true"
    out = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-rfs",
                          "-o", "addopts=", "--rootdir", str(tmp_path), str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    return out.stdout + out.stderr


@pytest.mark.parametrize("ci", [True, False])
def test_a_skip_fails_in_ci_unless_it_is_a_platform_fact(tmp_path: Path, ci: bool) -> None:
    output = run_sample(tmp_path, ci)
    assert "2 workers" in output
    if ci:
        assert "1 failed, 1 passed, 1 skipped" in output
        assert "skipped in CI, where everything it needs is installed: Skipped: no server here" in output
    else:
        assert "1 passed, 2 skipped" in output
