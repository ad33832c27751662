"""The host page in a real browser: facts, latest values and a chart drawn from the rollups."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.console.harness import Browser, ConsoleSite
from tests.console.pagecheck import csp_problems

pytestmark = [pytest.mark.integration]

CANVAS_HAS_INK = """
const c = arguments[0];
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } }
return n;
"""


def disk_host(site: ConsoleSite) -> str:
    with site.api() as api:
        hosts = [h for h in api.get("/api/v1/hosts").json() if h["id"] != site.demo.local_agent_id]
    return str(hosts[0]["id"])


def test_a_host_chart_draws_from_the_rollups(browser: Browser, site: ConsoleSite) -> None:
    host = disk_host(site)
    browser.login("engineer")
    browser.visit(f"/console/hosts/{host}", "host")
    box = browser.wait_for("a drawn chart", lambda d: d.find_element(By.CSS_SELECTOR, ".chart-box.drawn"))
    canvas = box.find_element(By.CSS_SELECTOR, "canvas")
    assert browser.driver.execute_script(CANVAS_HAS_INK, canvas) > 100
    assert int(box.get_attribute("data-points")) > 10
    assert box.get_attribute("data-tier") == "1m"  # a day at 600 points: the minute tier
    # The facts read as a person writes them: sizes, times, one line per disk and interface.
    facts = browser.driver.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert "GiB" in facts and "Mb/s" in facts
    assert not any(raw in facts for raw in ("memory_bytes", "boot_time_ms", "total_bytes", "speed_mbps", "True"))
    # A year reads the hourly tier.
    box.find_element(By.CSS_SELECTOR, ".chart-range[data-seconds='31536000']").click()
    browser.wait_for("the year read from the hourly tier", lambda d: d.find_element(
        By.CSS_SELECTOR, ".chart-box").get_attribute("data-tier") == "1h")
    browser.snap("host-one-year")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "table.latest tbody tr")
    assert len(rows) > 10 and any("%" in r.text for r in rows)


def test_capacity_series_carry_the_stored_forecast(site: ConsoleSite) -> None:
    with site.api() as api:
        found = api.get("/api/v1/forecasts").json()["forecasts"]
    # A capacity series with a trend (two days of history are too short to predict a crossing).
    crossing = next(f for f in found if f["level"] is not None and f["slope_per_day"] is not None
                    and f["series"].endswith("_percent"))
    s = site.session("engineer")
    r = s.http.get(f"/console/api/hosts/{crossing['host_id']}/series",
                   params={"metric": crossing["series"], "range_s": 7 * 86400})
    data = r.json()
    assert r.status_code == 200 and data["unit"] == "%"
    kinds = [x["kind"] for x in data["series"]]
    assert "value" in kinds and {"forecast-trend", "forecast-low", "forecast-high"} <= set(kinds)
    assert data["forecasts"][0]["limit"] == crossing["limit"]
    # The chart reaches past now: the trend runs on to the window's end or the crossing.
    assert max(data["x"]) >= data["now"]
    page = s.http.get(f"/console/hosts/{crossing['host_id']}")
    assert page.status_code == 200 and not csp_problems(page.headers, page.text)
