"""The console's foundation in a real browser and over HTTP: login, fleet, logout, CSRF, rate limit, CSP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, select

from collector.console.security import CSP
from collector.diagnostics.tables import audit_log
from tests.console.harness import Browser, ConsoleSite
from tests.console.pagecheck import csp_problems

pytestmark = [pytest.mark.integration]


def audit_rows(site: ConsoleSite, event: str, actor: str) -> list[dict[str, Any]]:
    engine = create_engine(f"sqlite:///{site.demo.paths.database}")
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.event == event,
                                                                          audit_log.c.actor == actor)).mappings()]
    finally:
        engine.dispose()


def test_log_in_see_the_fleet_and_log_out(browser: Browser, site: ConsoleSite) -> None:
    browser.visit("/console", "console-without-login")
    assert browser.path() == "/login"
    browser.login("engineer")
    assert browser.path() == "/console"
    with site.api() as api:
        hostnames = {h["hostname"] for h in api.get("/api/v1/hosts").json()}
    assert len(hostnames) == 5
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "tr.host-row a.host-link")
    assert {r.text for r in rows} == hostnames
    # Every row carries sparklines drawn from the hourly rollups of the last day.
    assert browser.driver.find_elements(By.CSS_SELECTOR, "tr.host-row svg.spark polyline")
    browser.logout()
    browser.visit("/console", "console-after-logout")
    assert browser.path() == "/login"
    assert audit_rows(site, "console.login", "engineer") and audit_rows(site, "console.logout", "engineer")


def test_fleet_search_and_filters(browser: Browser, site: ConsoleSite) -> None:
    browser.login("engineer")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "tr.host-row")
    target = rows[-1].get_attribute("data-host")
    name = rows[-1].find_element(By.CSS_SELECTOR, "a.host-link").text
    box = browser.driver.find_element(By.ID, "fleet-q")
    box.send_keys(name)
    browser.wait_for("the search to narrow the fleet", lambda d: d.execute_script(
        "return Array.from(document.querySelectorAll('tr.host-row')).map(r => r.dataset.host)") == [target])
    browser.snap("fleet-searched")
    assert f"q={name}" in browser.driver.current_url
    first_customer = str(site.demo.customers[0]["id"])
    browser.visit(f"/console?customer={first_customer}", "fleet-one-customer")
    with site.api() as api:
        theirs = {h["id"] for h in api.get("/api/v1/hosts", params={"customer": first_customer}).json()}
    shown = {r.get_attribute("data-host") for r in browser.driver.find_elements(By.CSS_SELECTOR, "tr.host-row")}
    assert shown == theirs


def test_language_switch(browser: Browser) -> None:
    browser.login("admin")
    assert browser.driver.find_element(By.CSS_SELECTOR, "nav.nav a.active").text == "Fleet"
    from selenium.webdriver.support.ui import Select

    Select(browser.driver.find_element(By.ID, "lang-select")).select_by_value("zh")
    browser.wait_for("the page in Chinese", lambda d: d.find_element(By.CSS_SELECTOR, "nav.nav a.active").text
                     == "主机总览")
    browser.snap("fleet-zh")
    Select(browser.driver.find_element(By.ID, "lang-select")).select_by_value("en")
    browser.wait_for("the page in English", lambda d: d.find_element(By.CSS_SELECTOR, "nav.nav a.active").text
                     == "Fleet")


def test_a_write_without_the_csrf_token_or_from_another_origin_is_refused(site: ConsoleSite) -> None:
    s = site.session("engineer")
    assert s.post("/logout", csrf=False).status_code == 403
    assert s.post("/logout", {"csrf_token": "forged"}, csrf=False).status_code == 403
    assert s.post("/logout", origin="http://evil.example").status_code == 403
    assert s.http.get("/console").status_code == 200  # still logged in
    assert s.post("/logout").status_code == 303
    assert s.http.get("/console").status_code == 303  # logged out: to the login page


def test_repeated_bad_logins_are_locked_out_and_audited(site: ConsoleSite) -> None:
    with site.api() as api:
        api.post("/api/v1/console/users", json={"username": "lockme", "password": "lockme-password",
                                                "role": "engineer", "language": "en"})
    with httpx.Client(base_url=site.url, timeout=30, headers={"Accept-Language": "en-GB,en;q=0.9"}) as http:
        def attempt(password: str) -> httpx.Response:
            token = http.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
            return http.post("/login", data={"username": "lockme", "password": password, "csrf_token": token},
                             headers={"Origin": site.url})

        for _ in range(5):
            r = attempt("wrong password")
            assert r.status_code == 200 and "Wrong username or password" in r.text
        locked = attempt("wrong password")
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert attempt("lockme-password").status_code == 429  # even the right one, for now
    outcomes = [r["outcome"] for r in audit_rows(site, "console.login", "lockme")]
    assert outcomes.count("denied") >= 5 and "locked" in outcomes


def test_login_form_needs_its_token_and_the_same_origin(site: ConsoleSite) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as http:
        http.get("/login")
        r = http.post("/login", data={"username": "engineer", "password": site.logins["engineer"].password,
                                      "csrf_token": "guess"}, headers={"Origin": site.url})
        assert r.status_code == 403


def console_pages(site: ConsoleSite) -> list[str]:
    """A page of every kind the console has, with real ids."""
    with site.api() as api:
        host = api.get("/api/v1/hosts").json()[0]["id"]
        ticket = api.get("/api/v1/tickets", params={"limit": 1}).json()[0]["id"]
        run = api.get("/api/v1/inspections", params={"limit": 1}).json()[0]["id"]
    return ["/console", "/console?status=problem", f"/console/hosts/{host}", "/console/problems",
            "/console/tickets", "/console/tickets?state=all", f"/console/tickets/{ticket}", "/console/tickets/new",
            "/console/inspections", f"/console/inspections/{run}", "/console/diagnostics", "/console/admin"]


def test_every_page_has_the_csp_and_no_inline_script(site: ConsoleSite) -> None:
    s = site.session("admin")
    pages = {"/login": httpx.get(site.url + "/login"), "error page": s.http.get("/console/no-such-page")}
    for path in console_pages(site):
        pages[path] = s.http.get(path)
        assert pages[path].status_code == 200, path
    for name, r in pages.items():
        assert not csp_problems(r.headers, r.text), (name, csp_problems(r.headers, r.text))
    assert pages["error page"].status_code == 404
    static = httpx.get(site.url + "/static/console/console.js")
    assert static.status_code == 200 and static.headers["content-security-policy"] == CSP
    assert httpx.get(site.url + "/static/console/../templating.py").status_code == 404


def test_a_customer_login_cannot_open_the_console(site: ConsoleSite) -> None:
    s = site.session("customer")
    for path in console_pages(site):
        assert s.http.get(path).status_code == 403, path
    with site.api() as api:
        host = api.get("/api/v1/hosts").json()[0]["id"]
    assert s.http.get(f"/console/api/hosts/{host}/series", params={"metric": "cpu.busy_percent"}).status_code == 403
    assert s.http.get("/console/api/problems/stream").status_code == 403
    assert s.post("/console/tickets/1/ack").status_code == 403
    assert s.http.get("/").headers["location"] == "/portal"
    # Without a login, pages lead to the login form and the JSON endpoints answer 401.
    anonymous = httpx.Client(base_url=site.url, timeout=30)
    assert anonymous.get("/console/tickets").headers["location"].startswith("/login?next=")
    assert anonymous.get(f"/console/api/hosts/{host}/series", params={"metric": "cpu.busy_percent"}
                         ).status_code == 401
