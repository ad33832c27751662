"""Suite-wide policy: in CI (CI=true) a skipped test is a failure.

Tests that need a server from Debian (OpenSSH, victoria-metrics, PostgreSQL), fonts or sample data
skip with a clear reason on a developer's machine without them; CI installs all of them, so a skip
there means something is missing. Tests whose skip reflects the platform itself (no systemd, no
IPv6, a container's overlay root) carry the ``ci_may_skip`` marker.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

import protos.forking  # noqa: F401  (gRPC's fork handlers off in the test processes and their children)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ci_may_skip: the test may skip in CI (the skip reflects the platform)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if (os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail")
            and item.get_closest_marker("ci_may_skip") is None):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where everything it needs is installed: {reason}"
