"""The problem board in a real browser: ordered by SLA urgency, updated by server-sent events."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.console.harness import Browser, ConsoleSite

pytestmark = [pytest.mark.integration]

ROW_IDS = "return Array.from(document.querySelectorAll('#board-rows tr.ticket-row')).map(r => r.dataset.ticket)"


def test_the_board_updates_live_without_a_reload(browser: Browser, site: ConsoleSite) -> None:
    browser.login("engineer")
    browser.visit("/console/problems", "problems")
    d = browser.driver
    browser.wait_for("the live stream", lambda drv: drv.find_element(By.ID, "board").get_attribute("data-live") == "1")
    d.execute_script("window.sameDocument = true;")
    customer = str(site.demo.customers[1]["id"])
    with site.api() as api:
        t = api.post("/api/v1/tickets", json={"customer_id": customer, "title": "核心交换机端口告警 (board test)",
                                              "severity": "L1", "description": "端口 Gi0/1 频繁 up/down"}).json()
    browser.wait_for("the new ticket on the board", lambda drv: str(t["id"]) in drv.execute_script(ROW_IDS))
    browser.snap("problems-new-ticket")
    assert d.execute_script("return window.sameDocument === true")  # no reload happened
    row_js = f"document.querySelector(\"tr.ticket-row[data-ticket='{t['id']}']\")"
    assert "一级" in d.execute_script(f"return {row_js}.textContent")
    first = d.execute_script(f"return {row_js}.querySelector('.countdown').textContent")
    browser.wait_for("the countdown to tick", lambda drv: drv.execute_script(
        f"return {row_js}.querySelector('.countdown').textContent") != first)
    # The board is ordered by the next deadline: an L1 ticket's response is due soonest.
    ids = d.execute_script(ROW_IDS)
    deadlines = d.execute_script("return Array.from(document.querySelectorAll('#board-rows tr.ticket-row'))"
                                 ".map(r => { const c = r.querySelector('.countdown[data-deadline]');"
                                 " return c ? Date.parse(c.dataset.deadline) : null; })")
    timed = [x for x in deadlines if x is not None]
    assert timed == sorted(timed) and ids
    with site.api() as api:
        api.post(f"/api/v1/tickets/{t['id']}/ack", json={"note": "board test"}).raise_for_status()
    browser.wait_for("the acknowledged state on the board", lambda drv: drv.execute_script(
        f"const r = {row_js}; return r && r.dataset.state") == "responded")
    browser.snap("problems-acknowledged")
    assert d.execute_script("return window.sameDocument === true")
