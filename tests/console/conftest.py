"""Fixtures of the console's tests: one collector with a simulated fleet and one browser per session.

``site`` is the running collector (:class:`tests.console.harness.ConsoleSite`) with the logins
``engineer``, ``admin`` and ``customer`` (of the first simulated customer), all with
:data:`tests.console.harness.PASSWORD`. ``browser`` is headless Chromium
(:class:`tests.console.harness.Browser`); a test using it fails when the page logged a JavaScript
error, and leaves a screenshot of every page it visited in ``build/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from collector.cli.inspections import run_demo_inspection
from collector.demo import Demo, DemoPaths, demo_customers
from collector.localrun import wait_until
from tests.console.harness import AGENTS, CUSTOMERS, Browser, ConsoleSite, LiveFleet, browser_missing, make_driver


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    demo = Demo(DemoPaths(tmp_path_factory.mktemp("console")), demo_customers(CUSTOMERS))
    demo.prepare()
    demo.start_collector()
    fleet: LiveFleet | None = None
    try:
        demo.start_agent()
        fleet = LiveFleet(demo.grpc_target, AGENTS, CUSTOMERS, timedelta(days=2))
        s = ConsoleSite(demo)
        with s.api() as api:
            def all_online() -> bool:
                if fleet is not None and fleet.error is not None:
                    raise fleet.error
                hosts = api.get("/api/v1/hosts").json()
                return fleet is not None and fleet.backfilled.is_set() and len(hosts) == AGENTS + 1
            # One simulated host falls silent hours before the end of its history: it stays offline.
            wait_until(all_online, 240, "the simulated fleet's history and every host")
            api.post("/api/v1/admin/flush")
            api.post("/api/v1/admin/predict").raise_for_status()  # stored forecasts for the capacity charts
        first = str(demo.customers[0]["id"])
        for customer in demo.customers:
            run_demo_inspection(demo.api_url, demo.token, str(customer["id"]), show=False)
        s.add_logins(first)
        yield s
    finally:
        if fleet is not None:
            fleet.close()
        demo.stop()


@pytest.fixture(scope="session")
def _driver() -> Iterator[Any]:
    missing = browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} (CI installs it: see .ci/run)")
        pytest.skip(missing)
    driver = make_driver()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(_driver: Any, site: ConsoleSite, request: pytest.FixtureRequest) -> Iterator[Browser]:
    b = Browser(_driver, site.url)
    b.start_test(request.node.name)
    yield b
    errors = b.js_errors()
    assert not errors, f"JavaScript console errors: {errors}"
