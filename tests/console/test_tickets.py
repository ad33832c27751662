"""Tickets in a real browser: register one by hand, acknowledge, assign, comment, escalate, resolve —
each found in the store and in the audit log."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.console.harness import Browser, ConsoleSite
from tests.console.test_foundation import audit_rows

pytestmark = [pytest.mark.integration]


def register_ticket(browser: Browser, site: ConsoleSite, title: str) -> int:
    customer = str(site.demo.customers[0]["id"])
    browser.visit(f"/console/tickets/new?customer={customer}", "register-form")
    d = browser.driver
    d.find_element(By.ID, "reg-title").send_keys(title)
    Select(d.find_element(By.ID, "reg-severity")).select_by_value("L3")
    Select(d.find_element(By.ID, "reg-channel")).select_by_value("hotline")
    d.find_element(By.ID, "reg-contact").send_keys("张三")
    d.find_element(By.ID, "reg-phone").send_keys("010-12345678")
    d.find_element(By.ID, "reg-description").send_keys("订单系统访问缓慢")
    d.find_element(By.ID, "reg-impact_scope").send_keys("财务部全部用户")
    d.find_element(By.ID, "do-register").click()
    browser.wait_for("the new ticket", lambda drv: "/console/tickets/" in drv.current_url and "done=register"
                     in drv.current_url)
    browser.wait_ready()
    browser.snap("registered")
    return int(browser.path().rsplit("/", 1)[1])


def test_acknowledge_a_ticket_and_find_it_in_the_store_and_the_audit_log(browser: Browser, site: ConsoleSite) -> None:
    browser.login("engineer")
    ticket_id = register_ticket(browser, site, "订单系统访问缓慢 (console test)")
    with site.api() as api:
        t = api.get(f"/api/v1/tickets/{ticket_id}").json()
    assert t["source"] == "manual" and t["registration"]["contact"] == "张三"
    assert t["registration"]["channel"] == "hotline" and t["state"] in ("registered", "classified")
    browser.driver.find_element(By.ID, "ack-note").send_keys("on it")
    browser.driver.find_element(By.ID, "do-ack").click()
    browser.wait_for("the acknowledged ticket", lambda d: "done=ack" in d.current_url)
    browser.wait_ready()
    browser.snap("acknowledged")
    assert browser.driver.find_element(By.ID, "ticket-state").get_attribute("data-state") == "responded"
    with site.api() as api:
        t = api.get(f"/api/v1/tickets/{ticket_id}").json()
    assert t["state"] == "responded"
    respond = next(c for c in t["clocks"] if c["clock"] == "respond")
    assert respond["status"] in ("met", "met_late")
    assert any(e["action"] == "state" or e["actor"] == "engineer" for e in t["timeline"])
    acks = [r for r in audit_rows(site, "console.ticket.ack", "engineer") if r["args"]["ticket"] == str(ticket_id)]
    assert len(acks) == 1 and acks[0]["outcome"] == "ok" and acks[0]["via"] == "console"
    registered = [r for r in audit_rows(site, "console.ticket.register", "engineer")
                  if r["args"]["ticket"] == str(ticket_id)]
    assert registered
    # Acknowledging twice is refused (409), on the page and in the audit log.
    browser.expect_failure(f"/console/tickets/{ticket_id}/ack", 409)
    browser.driver.find_element(By.ID, "do-ack").click()
    browser.wait_for("the refusal", lambda d: d.find_elements(By.ID, "action-error"))
    browser.snap("ack-refused")
    assert [r["outcome"] for r in audit_rows(site, "console.ticket.ack", "engineer")
            if r["args"]["ticket"] == str(ticket_id)] == ["ok", "refused"]


def test_assign_comment_escalate_and_resolve(browser: Browser, site: ConsoleSite) -> None:
    browser.login("engineer")
    ticket_id = register_ticket(browser, site, "备份作业失败 (console test)")
    d = browser.driver
    assignee = d.find_element(By.ID, "assignee")
    assignee.clear()
    assignee.send_keys("li.wei")
    d.find_element(By.ID, "do-assign").click()
    browser.wait_for("the assignment", lambda drv: "done=assign" in drv.current_url)
    d.find_element(By.CSS_SELECTOR, "#form-comment textarea").send_keys("客户已确认影响范围")
    d.find_element(By.ID, "do-comment").click()
    browser.wait_for("the comment", lambda drv: "done=comment" in drv.current_url)
    d.find_element(By.ID, "escalate-reason").send_keys("影响扩大")
    d.find_element(By.ID, "do-escalate").click()
    browser.wait_for("the escalation", lambda drv: "done=escalate" in drv.current_url)
    browser.snap("escalated")
    for field, text in (("cause", "备份盘已满"), ("solution", "清理旧备份并扩容"), ("prevention", "容量告警"),
                        ("short_term", "手工清理"), ("long_term", "备份保留策略")):
        d.find_element(By.ID, f"resolve-{field}").send_keys(text)
    d.find_element(By.ID, "do-resolve").click()
    browser.wait_for("the resolution", lambda drv: "done=resolve" in drv.current_url)
    browser.wait_ready()
    browser.snap("resolved")
    with site.api() as api:
        t = api.get(f"/api/v1/tickets/{ticket_id}").json()
    assert t["assignee"] == "li.wei" and t["severity"] == "L2" and t["state"] == "resolved"
    assert t["closure"]["cause"] == "备份盘已满" and t["closure"]["long_term"] == "备份保留策略"
    assert any(e["details"].get("text") == "客户已确认影响范围" for e in t["timeline"])
    for what in ("assign", "comment", "escalate", "resolve"):
        assert [r for r in audit_rows(site, f"console.ticket.{what}", "engineer")
                if r["args"]["ticket"] == str(ticket_id)], what
    browser.visit("/console/tickets?state=all", "queue-all")
    ids = [r.get_attribute("data-ticket") for r in d.find_elements(By.CSS_SELECTOR, "tr.ticket-row")]
    assert str(ticket_id) in ids


def test_a_viewer_cannot_act_on_tickets(site: ConsoleSite) -> None:
    with site.api() as api:
        api.post("/api/v1/console/users", json={"username": "viewer", "password": "viewer-password",
                                                "role": "viewer", "language": "en"})
    site.logins["viewer"] = type(site.logins["engineer"])("viewer", "viewer-password", "viewer")
    s = site.session("viewer")
    assert s.http.get("/console/tickets").status_code == 200
    assert s.post("/console/tickets/1/ack").status_code == 403
