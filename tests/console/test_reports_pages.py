"""The engineers' report pages in a real browser: generate with progress, archive, sandboxed preview, PDF."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from collector.console.reports_page import PREVIEW_CSP
from tests.console.harness import Browser, ConsoleSite
from tests.console.pagecheck import csp_problems
from tests.console.portal_seed import customers
from tests.console.test_foundation import audit_rows

pytestmark = [pytest.mark.integration]


def test_engineer_generates_a_report_previews_it_and_downloads_the_pdf(browser: Browser, site: ConsoleSite) -> None:
    mine, theirs = customers(site)
    browser.login("engineer")
    browser.visit("/console/reports", "reports")
    d = browser.driver
    Select(d.find_element(By.ID, "gen-customer")).select_by_value(mine)
    Select(d.find_element(By.ID, "gen-kind")).select_by_value("quarterly")
    period = d.find_element(By.ID, "gen-period").get_attribute("value") or ""
    assert "Q" in period  # the period follows the kind
    Select(d.find_element(By.ID, "gen-kind")).select_by_value("monthly")
    period = d.find_element(By.ID, "gen-period").get_attribute("value") or ""
    Select(d.find_element(By.ID, "gen-language")).select_by_value("en")
    d.find_element(By.ID, "generate-submit").click()
    browser.wait_for("the job page", lambda drv: "/console/reports/jobs/" in drv.current_url)
    browser.wait_ready()
    browser.snap("report-job-running")
    assert d.find_element(By.ID, "job-progress")
    browser.wait_for("the generation to finish", lambda drv: drv.find_element(By.ID, "job-status")
                     .get_attribute("data-state") in ("completed", "failed"), timeout=300)
    browser.snap("report-job-done")
    status = d.find_element(By.ID, "job-status")
    assert status.get_attribute("data-state") == "completed", status.text
    report_id = int(status.get_attribute("data-report") or 0)
    job_id = browser.path().rsplit("/", 1)[1]
    d.find_element(By.ID, "job-report").click()
    browser.wait_for("the report page", lambda drv: drv.current_url.endswith(f"/console/reports/{report_id}"))
    browser.wait_ready()
    frame = d.find_element(By.ID, "report-preview")
    assert frame.get_attribute("sandbox") == ""
    browser.snap("report-detail")
    s = site.session("engineer")
    job = s.http.get(f"/console/api/reports/jobs/{job_id}").json()
    assert (job["state"], job["percent"], job["report_id"]) == ("completed", 100, report_id)
    preview = s.http.get(f"/console/reports/{report_id}/preview")
    assert preview.status_code == 200 and preview.headers["content-type"].startswith("text/html")
    assert preview.headers["content-security-policy"] == PREVIEW_CSP and "<html" in preview.text
    pdf = s.http.get(f"/console/reports/{report_id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    with site.api() as api:
        stored = api.get(f"/api/v1/reports/{report_id}").json()
    assert (stored["customer_id"], stored["kind"], stored["period"], stored["language"]) == (
        mine, "monthly", period, "en")
    assert stored["requested_by"] == "engineer" and stored["trigger"] == "manual"
    assert {doc["format"] for doc in stored["documents"]} >= {"pdf", "html"}
    # In the archive of its customer, not in the other's.
    browser.visit(f"/console/reports?customer={mine}", "reports-archive-customer")
    rows = {r.get_attribute("data-report") for r in d.find_elements(By.CSS_SELECTOR, "tr.report-row")}
    assert str(report_id) in rows
    browser.visit(f"/console/reports?customer={theirs}", "reports-archive-other")
    rows = {r.get_attribute("data-report") for r in d.find_elements(By.CSS_SELECTOR, "tr.report-row")}
    assert str(report_id) not in rows
    assert any(r["args"].get("customer") == mine for r in audit_rows(site, "console.report.generate", "engineer"))
    assert any(r["args"].get("report") == str(report_id)
               for r in audit_rows(site, "console.report.generated", "engineer"))
    # The customer of the report downloads it from the portal.
    portal_pdf = site.session("customer").http.get(f"/portal/reports/{report_id}/pdf")
    assert portal_pdf.status_code == 200 and portal_pdf.content == pdf.content


def test_report_pages_refuse_bad_requests(site: ConsoleSite) -> None:
    mine, _ = customers(site)
    s = site.session("engineer")
    bad = s.post("/console/reports", {"customer": mine, "kind": "monthly", "period": "2026-13"})
    assert bad.status_code == 400 and 'id="form-error"' in bad.text
    assert s.post("/console/reports", {"customer": "no-such-customer", "kind": "monthly",
                                       "period": "2026-11"}).status_code == 400
    assert s.post("/console/reports", {"customer": mine, "kind": "monthly", "period": "2026-11"},
                  csrf=False).status_code == 403
    customer = site.session("customer")
    assert customer.post("/console/reports", {"customer": mine, "kind": "monthly",
                                              "period": "2026-11"}).status_code == 403
    assert customer.http.get("/console/reports").status_code == 403
    assert s.http.get("/console/reports/jobs/no-such-job").status_code == 404
    assert s.http.get("/console/api/reports/jobs/no-such-job").json()["detail"]
    assert s.http.get("/console/reports/999999").status_code == 404
    assert s.http.get("/console/reports/999999/pdf").status_code == 404
    for path in ("/console/reports", f"/console/reports?customer={mine}"):
        r = s.http.get(path)
        assert r.status_code == 200 and not csp_problems(r.headers, r.text), csp_problems(r.headers, r.text)
