"""Diagnostics in a real browser: run an action on the real local agent, its output streams into the
page, and the audit entries are shown (and are in the store)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.console.harness import Browser, ConsoleSite
from tests.console.test_foundation import audit_rows

pytestmark = [pytest.mark.integration]


def test_run_a_diagnostic_and_see_its_output(browser: Browser, site: ConsoleSite) -> None:
    browser.login("engineer")
    agent = site.demo.local_agent_id
    browser.visit(f"/console/diagnostics?host={agent}", "diagnostics")
    d = browser.driver
    assert Select(d.find_element(By.ID, "diag-host")).first_selected_option.get_attribute("value") == agent
    Select(d.find_element(By.ID, "diag-action")).select_by_value("top_processes")
    d.find_element(By.ID, "diag-run").click()
    browser.wait_for("the diagnostic to finish", lambda drv: drv.find_element(By.ID, "diag-result")
                     .get_attribute("data-status"), timeout=90)
    browser.wait_for("its audit entries", lambda drv: drv.find_element(By.ID, "diag-result")
                     .get_attribute("data-audited"), timeout=30)
    browser.snap("diagnostic-done")
    assert d.find_element(By.ID, "diag-result").get_attribute("data-status") == "ok"
    output = d.find_element(By.ID, "diag-output").text
    assert "PID" in output.upper() and len(output.splitlines()) > 3
    events = [r.get_attribute("data-event") for r in d.find_elements(By.CSS_SELECTOR, "#diag-audit tr.audit-row")]
    assert "diag.request" in events and "diag.result" in events
    stored = audit_rows(site, "diag.request", "engineer")
    assert any(r["host_id"] == agent and r["action"] == "top_processes" for r in stored)


def test_an_action_the_agent_refuses_is_shown_as_denied(browser: Browser, site: ConsoleSite) -> None:
    browser.login("engineer")
    browser.visit(f"/console/diagnostics?host={site.demo.local_agent_id}", "diagnostics")
    d = browser.driver
    Select(d.find_element(By.ID, "diag-action")).select_by_value("network_probe")  # switched off in the demo
    d.find_element(By.ID, "arg-tcp").send_keys("127.0.0.1:22")
    d.find_element(By.ID, "diag-run").click()
    browser.wait_for("the refusal", lambda drv: drv.find_element(By.ID, "diag-result").get_attribute("data-status"),
                     timeout=90)
    browser.snap("diagnostic-denied")
    assert d.find_element(By.ID, "diag-result").get_attribute("data-status") == "denied"
