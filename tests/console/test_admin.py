"""The admin page in a real browser: the audit log lists console writes; users can be disabled."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.console.harness import Browser, ConsoleSite
from tests.console.pagecheck import csp_problems

pytestmark = [pytest.mark.integration]


def test_the_admin_page_shows_the_audit_log_group_and_jobs(browser: Browser, site: ConsoleSite) -> None:
    browser.login("admin")
    browser.visit("/console/admin", "admin")
    d = browser.driver
    events = {r.get_attribute("data-event") for r in d.find_elements(By.CSS_SELECTOR, "tr.audit-row")}
    assert "console.login" in events and "console.user.add" in events
    assert d.find_elements(By.CSS_SELECTOR, "tr.member-row")
    jobs = [r.text for r in d.find_elements(By.CSS_SELECTOR, "tr.job-row")]
    assert any("console-sessions" in j for j in jobs)
    browser.visit("/console/admin?actor=admin&event=console.login", "admin-filtered")
    actors = {r.get_attribute("data-actor") for r in d.find_elements(By.CSS_SELECTOR, "tr.audit-row")}
    assert actors == {"admin"}


def test_disabling_a_user_ends_its_sessions(site: ConsoleSite) -> None:
    with site.api() as api:
        api.post("/api/v1/console/users", json={"username": "temp", "password": "temp-password", "role": "engineer",
                                                "language": "en"})
    site.logins["temp"] = type(site.logins["engineer"])("temp", "temp-password", "engineer")
    temp = site.session("temp")
    assert temp.http.get("/console").status_code == 200
    admin = site.session("admin")
    admin.csrf = admin.page_csrf("/console/admin")
    assert admin.post("/console/admin/users/temp/disabled", {"disabled": "true"}).status_code == 303
    assert temp.http.get("/console").status_code == 303  # its session ended
    page = admin.http.get("/console/admin")
    assert not csp_problems(page.headers, page.text)
    engineer = site.session("engineer")
    assert engineer.http.get("/console/admin").status_code == 403
