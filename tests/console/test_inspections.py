"""Inspections in a real browser: runs, findings by the five categories, the manual checklist,
a fix recorded on the spot (which resolves the finding's ticket), and starting a run now."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.console.harness import Browser, ConsoleSite
from tests.console.test_foundation import audit_rows

pytestmark = [pytest.mark.integration]


def first_run(site: ConsoleSite, customer: str) -> dict[str, object]:
    with site.api() as api:
        return dict(api.get("/api/v1/inspections", params={"customer": customer}).json()[-1])


def test_findings_checklist_and_a_fix_on_the_spot(browser: Browser, site: ConsoleSite) -> None:
    customer = str(site.demo.customers[1]["id"])
    run = first_run(site, customer)
    browser.login("engineer")
    browser.visit("/console/inspections", "inspections")
    d = browser.driver
    assert str(run["id"]) in [r.get_attribute("data-run") for r in d.find_elements(By.CSS_SELECTOR, "tr.run-row")]
    browser.visit(f"/console/inspections/{run['id']}", "inspection-run")
    assert len(d.find_elements(By.CSS_SELECTOR, "h3.category")) == 5
    items = [r.get_attribute("data-item") for r in d.find_elements(By.CSS_SELECTOR, "table.checklist tr[data-item]")]
    assert len(items) >= 2
    Select(d.find_element(By.ID, f"result-{items[0]}")).select_by_value("ok")
    Select(d.find_element(By.ID, f"result-{items[1]}")).select_by_value("not_applicable")
    d.find_element(By.ID, f"remark-{items[1]}").send_keys("本机房无此设备")
    d.find_element(By.ID, "do-checklist").click()
    browser.wait_for("the saved checklist", lambda drv: "done=checklist" in drv.current_url)
    browser.snap("checklist-saved")
    with site.api() as api:
        rows = {r["item_id"]: r for r in api.get(f"/api/v1/inspections/{run['id']}/checklist").json()}
    assert rows[items[0]]["result"] == "ok" and rows[items[0]]["checked_by"] == "engineer"
    assert rows[items[1]]["remark"] == "本机房无此设备"
    assert audit_rows(site, "console.inspection.checklist", "engineer")
    # Record a fix for a critical finding that opened a ticket: the ticket is resolved with it.
    with site.api() as api:
        open_tickets = [t for t in api.get("/api/v1/tickets", params={"customer": customer, "open": "true"}).json()
                        if t["source"] == "inspection"]
    assert open_tickets
    with site.api() as api:
        memo = api.get(f"/api/v1/inspections/{run['id']}/memo").json()
    ticketed = {t["id"] for t in open_tickets}
    item = next(m for m in memo if m["number"] is not None and m["ticket_id"] in ticketed)
    target, number = item["ticket_id"], str(item["number"])
    Select(d.find_element(By.ID, "fix-finding")).select_by_value(number)
    d.find_element(By.ID, "fix-symptom").send_keys("登录失败次数激增")
    d.find_element(By.ID, "fix-analysis").send_keys("弱口令扫描")
    d.find_element(By.ID, "fix-steps").send_keys("封禁来源地址并启用 fail2ban")
    d.find_element(By.ID, "do-fix").click()
    browser.wait_for("the recorded fix", lambda drv: "done=fix" in drv.current_url)
    browser.wait_ready()
    browser.snap("fix-recorded")
    assert d.find_elements(By.CSS_SELECTOR, "table.fixes tr.fix-row")
    with site.api() as api:
        t = api.get(f"/api/v1/tickets/{target}").json()
    assert t["state"] == "resolved" and t["closure"]["solution"] == "封禁来源地址并启用 fail2ban"
    assert audit_rows(site, "console.inspection.fix", "engineer")


def test_start_an_inspection_now(browser: Browser, site: ConsoleSite) -> None:
    customer = str(site.demo.customers[0]["id"])
    browser.login("engineer")
    browser.visit(f"/console/inspections?customer={customer}", "inspections")
    d = browser.driver
    Select(d.find_element(By.ID, "insp-customer")).select_by_value(customer)
    Select(d.find_element(By.ID, "insp-profile")).select_by_value("daily")
    d.find_element(By.ID, "do-inspect").click()
    browser.wait_for("the new run's page", lambda drv: drv.find_elements(By.ID, "run-status"))
    browser.snap("inspection-started")
    run_id = int(browser.path().rsplit("/", 1)[1])
    with site.api() as api:
        run = api.get(f"/api/v1/inspections/{run_id}", params={"findings": "none"}).json()
    assert run["customer_id"] == customer and run["profile"] == "daily" and run["requested_by"] == "engineer"
    assert run["trigger"] == "manual"
    assert any(r["args"].get("run") == str(run_id) for r in audit_rows(site, "console.inspection.start", "engineer"))
