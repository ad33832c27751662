"""The customer portal in a real browser: own hosts and tickets only, a request, a rating, report downloads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from collector.console.messages_portal import EN, ZH
from tests.console.harness import Browser, ConsoleSite
from tests.console.pagecheck import csp_problems, mentions
from tests.console.portal_seed import archived_reports, customers, hosts_of, manual_ticket, resolved_ticket
from tests.console.test_foundation import audit_rows

pytestmark = [pytest.mark.integration]


def test_portal_messages_exist_in_both_languages() -> None:
    assert set(EN) == set(ZH)


def test_customer_sees_only_its_own_hosts_and_tickets(browser: Browser, site: ConsoleSite) -> None:
    mine, theirs = customers(site)
    own_hosts, other_hosts = hosts_of(site, mine), hosts_of(site, theirs)
    assert own_hosts and other_hosts
    other_title = manual_ticket(site, theirs)["title"]
    own_title = manual_ticket(site, mine)["title"]
    browser.login("customer")
    assert browser.path() == "/portal"
    shown = {r.get_attribute("data-host") for r in browser.driver.find_elements(By.CSS_SELECTOR, "tr.host-row")}
    assert shown == set(own_hosts)
    # Health scores of the inspection the fixture ran, in the customer's language (zh).
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#portal-hosts .score")
    assert "服务状态" in browser.driver.find_element(By.CSS_SELECTOR, "nav.nav a.active").text
    page = browser.driver.page_source
    assert not any(mentions(page, name) for name in other_hosts.values())
    simulated = next(h for h, name in own_hosts.items() if name.startswith(f"{mine}-"))
    browser.driver.find_element(By.CSS_SELECTOR, f"tr[data-host='{simulated}'] a.host-link").click()
    browser.wait_ready()
    browser.snap("portal-host")
    assert browser.driver.find_element(By.ID, "host-name").text == own_hosts[simulated]
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#host-values tbody tr")
    browser.visit("/portal/tickets", "portal-tickets")
    listed = {int(r.get_attribute("data-ticket") or 0) for r in browser.driver.find_elements(By.CSS_SELECTOR,
                                                                                               "tr.ticket-row")}
    assert listed and own_title in browser.driver.page_source
    with site.api() as api:
        assert {api.get(f"/api/v1/tickets/{i}").json()["customer_id"] for i in listed} == {mine}
    page = browser.driver.page_source
    assert not mentions(page, other_title) and not any(mentions(page, name) for name in other_hosts.values())
    # Another customer's host is as missing as a host that does not exist.
    s = site.session("customer")
    other = next(iter(other_hosts))
    for path in (f"/portal/hosts/{other}", "/portal/hosts/no-such-host"):
        r = s.http.get(path)
        assert r.status_code == 404 and not mentions(r.text, other_hosts[other])


def test_customer_opens_a_request(browser: Browser, site: ConsoleSite) -> None:
    mine, _ = customers(site)
    host_id, hostname = sorted(hosts_of(site, mine).items())[0]
    title = f"Web shop answers slowly {uuid.uuid4().hex[:6]}"
    browser.login("customer")
    browser.visit("/portal/requests/new", "portal-request-form")
    d = browser.driver
    d.find_element(By.ID, "req-title").send_keys(title)
    from selenium.webdriver.support.ui import Select

    Select(d.find_element(By.ID, "req-severity")).select_by_value("L2")
    Select(d.find_element(By.ID, "req-host")).select_by_value(host_id)
    d.find_element(By.ID, "req-contact").send_keys("张三")
    d.find_element(By.ID, "req-phone").send_keys("010-12345678")
    d.find_element(By.ID, "req-description").send_keys("Checkout takes 30 s since this morning")
    d.execute_script("document.getElementById('req-occurred').value = '2026-12-07T09:30'")
    d.find_element(By.ID, "req-environment").send_keys("production, Chrome 120")
    d.find_element(By.ID, "req-steps").send_keys("1. add to cart 2. pay")
    d.find_element(By.ID, "req-impact").send_keys("all shop users")
    browser.snap("portal-request-filled")
    d.find_element(By.ID, "request-submit").click()
    browser.wait_for("the new ticket's page", lambda drv: "/portal/tickets/" in drv.current_url)
    browser.wait_ready()
    browser.snap("portal-request-created")
    ticket_id = int(browser.path().rsplit("/", 1)[1])
    assert title in d.find_element(By.ID, "ticket-title").text
    # The SLA state in the customer's words: the response is due (or its clock waits for service hours).
    sla = d.find_element(By.ID, "ticket-sla").text
    assert "响应" in sla and ("须在" in sla or "暂停" in sla), sla
    with site.api() as api:
        stored = api.get(f"/api/v1/tickets/{ticket_id}").json()
    assert stored["customer_id"] == mine and stored["title"] == title and stored["severity"] == "L2"
    assert stored["source"] == "manual" and stored["reporter"] == "customer:张三" and stored["host_id"] == host_id
    reg = stored["registration"]
    assert (reg["contact"], reg["phone"], reg["environment"], reg["reproduction_steps"], reg["impact_scope"]) == (
        "张三", "010-12345678", "production, Chrome 120", "1. add to cart 2. pay", "all shop users")
    assert reg["description"] == "Checkout takes 30 s since this morning" and reg["channel"] == "web"
    # 09:30 in the customer's zone.
    tz = str(site.demo.customers[0]["timezone"])
    assert datetime.fromisoformat(reg["occurred_at"]) == datetime(2026, 12, 7, 9, 30, tzinfo=ZoneInfo(tz))
    assert hostname in d.page_source
    assert any(r["args"].get("ticket") == str(ticket_id) for r in audit_rows(site, "console.portal.request",
                                                                               "customer"))
    browser.visit("/portal/tickets", "portal-tickets-with-request")
    assert d.find_elements(By.CSS_SELECTOR, f"#open-tickets tr[data-ticket='{ticket_id}']")


def test_customer_rates_a_resolved_ticket(browser: Browser, site: ConsoleSite) -> None:
    mine, _ = customers(site)
    t = resolved_ticket(site, mine, f"Printer queue stuck {uuid.uuid4().hex[:6]}")
    browser.login("customer")
    browser.visit("/portal/tickets", "portal-tickets-resolved")
    link = browser.driver.find_element(By.CSS_SELECTOR, f"#past-tickets tr[data-ticket='{t['id']}'] a.rate-link")
    link.click()
    browser.wait_ready()
    browser.snap("portal-ticket-to-rate")
    d = browser.driver
    assert "spooler crashed" in d.find_element(By.ID, "ticket-closure").text
    assert d.find_element(By.ID, "ticket-sla").text in ("已在约定时限内处理", "已处理,但有时限未达成")
    for field, score in (("attitude", 5), ("quality", 4), ("resolution", 3)):
        d.find_element(By.ID, f"{field}-{score}").click()
    d.find_element(By.ID, "rating-comment").send_keys("quick and friendly")
    d.find_element(By.ID, "rating-submit").click()
    browser.wait_for("the thank-you notice", lambda drv: drv.find_elements(By.ID, "rated-notice"))
    browser.snap("portal-ticket-rated")
    with site.api() as api:
        stored = api.get(f"/api/v1/tickets/{t['id']}").json()
    s = stored["satisfaction"]
    assert (s["attitude"], s["quality"], s["resolution"], s["scale"]) == (5, 4, 3, "5")
    assert s["comment"] == "quick and friendly" and s["rated_by"].startswith("customer:")
    assert any(r["args"].get("ticket") == str(t["id"]) for r in audit_rows(site, "console.portal.rate", "customer"))
    assert not d.find_elements(By.ID, "rating-form")  # rated once
    # The rating feeds the satisfaction figures of the customer's quarterly report.
    quarter = f"{datetime.now(UTC).year}Q{(datetime.now(UTC).month - 1) // 3 + 1}"
    with site.api() as api:
        r = api.post("/api/v1/reports", json={"customer": mine, "kind": "quarterly", "period": quarter,
                                              "formats": ["html"]}, timeout=300)
    assert r.status_code == 201, r.text
    assert r.json()["summary"]["satisfaction_pct"] is not None


def test_rating_needs_csrf_a_resolved_ticket_and_valid_scores(site: ConsoleSite) -> None:
    mine, theirs = customers(site)
    s = site.session("customer")
    open_ticket = manual_ticket(site, mine, "still open")
    scores = {"attitude": "5", "quality": "5", "resolution": "5"}
    assert s.post(f"/portal/tickets/{open_ticket['id']}/rating", scores).status_code == 400
    done = resolved_ticket(site, mine, "resolved, to rate badly")
    assert s.post(f"/portal/tickets/{done['id']}/rating", {**scores, "quality": "9"}).status_code == 400
    assert s.post(f"/portal/tickets/{done['id']}/rating", scores, csrf=False).status_code == 403
    assert s.post(f"/portal/tickets/{done['id']}/rating", scores, origin="http://evil.example").status_code == 403
    other = resolved_ticket(site, theirs, "another customer's resolved ticket")
    assert s.post(f"/portal/tickets/{other['id']}/rating", scores).status_code == 404
    with site.api() as api:
        assert api.get(f"/api/v1/tickets/{other['id']}").json()["satisfaction"] is None
        assert api.get(f"/api/v1/tickets/{done['id']}").json()["satisfaction"] is None
    # A request without subject or description is refused and creates nothing.
    assert s.post("/portal/requests", {"title": "", "description": ""}).status_code == 400


def test_report_archive_lists_and_downloads_own_reports(browser: Browser, site: ConsoleSite) -> None:
    mine, theirs = customers(site)
    customer_reports = archived_reports(site)
    browser.login("customer")
    browser.visit("/portal/reports", "portal-reports")
    listed = {int(r.get_attribute("data-report") or 0)
              for r in browser.driver.find_elements(By.CSS_SELECTOR, "tr.report-row")}
    assert customer_reports[mine] in listed and customer_reports[theirs] not in listed
    s = site.session("customer")
    pdf = s.http.get(f"/portal/reports/{customer_reports[mine]}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    assert s.http.get(f"/portal/reports/{customer_reports[theirs]}/pdf").status_code == 404
    assert s.http.get(f"/portal/reports/{customer_reports[theirs]}/html").status_code == 404
    for path in ("/portal", "/portal/tickets", "/portal/reports", "/portal/requests/new"):
        r = s.http.get(path)
        assert r.status_code == 200 and not csp_problems(r.headers, r.text), (path, csp_problems(r.headers, r.text))
