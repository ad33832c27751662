"""A real collector fed by the simulator, console logins, and headless Chromium driven by Selenium.

The collector is the demo's (:class:`collector.demo.Demo`): SQLite, loopback, the real local agent
(which answers diagnostics) and a simulated fleet that loads two days of history and then streams
live. The browser is Debian's ``chromium`` with its ``chromedriver``; Selenium Manager never
downloads anything (``SE_OFFLINE``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from collector.demo import ConsoleLogin, Demo, create_console_logins
from collector.localrun import REPO_ROOT
from collector.simulator import ProgressInfo, simulate

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
PASSWORD = "console-test-password"
AGENTS = 4
CUSTOMERS = 2


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (path.exists() or shutil.which(path.name)):
            return f"{path} not found: install Debian's {package} package to run the console's browser tests"
    return None


class LiveFleet:
    """The simulated fleet, in a thread of its own: history first, then live until closed."""

    def __init__(self, target: str, agents: int, customers: int, history: timedelta) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.error: BaseException | None = None
        self.backfilled = threading.Event()  # every simulated agent has sent its history
        self.thread = threading.Thread(target=self._run, args=(target, agents, customers, history), daemon=True)
        self.thread.start()

    def _run(self, target: str, agents: int, customers: int, history: timedelta) -> None:
        try:
            self.loop.run_until_complete(simulate(target, agents=agents, customers=customers, history=history,
                                                  live=timedelta(hours=2), stop=self.stop, progress=self._progress))
        except BaseException as e:  # reported by the fixture waiting for the fleet
            self.error = e

    def _progress(self, p: ProgressInfo) -> None:
        if p.phase != "backfill":
            self.backfilled.set()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(60)


@dataclass
class ConsoleSite:
    """The running collector and the console logins made for the tests."""

    demo: Demo
    logins: dict[str, ConsoleLogin] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.demo.api_url

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.demo.token}"}, timeout=60)

    def add_logins(self, customer: str) -> None:
        wanted = [ConsoleLogin("engineer", PASSWORD, "engineer", None, "en"),
                  ConsoleLogin("admin", PASSWORD, "admin", None, "en"),
                  ConsoleLogin("customer", PASSWORD, "customer", customer, "zh")]
        create_console_logins(self.url, self.demo.token, wanted)
        self.logins = {login.username: login for login in wanted}

    def session(self, username: str) -> ConsoleHttp:
        return ConsoleHttp(self.url, username, self.logins[username].password)


class ConsoleHttp:
    """The console over plain HTTP as a browser would use it: login form, cookie, CSRF token."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60, follow_redirects=False)
        token = self.login_token()
        r = self.http.post("/login", data={"username": username, "password": password, "csrf_token": token},
                           headers={"Origin": url})
        assert r.status_code == 303, f"login of {username} failed: {r.status_code} {r.text[:300]}"
        self.csrf = self.page_csrf("/console" if username != "customer" else "/")

    def login_token(self) -> str:
        page = self.http.get("/login")
        return csrf_of(page.text)

    def page_csrf(self, path: str) -> str:
        r = self.http.get(path, follow_redirects=True)
        found = re.search(r'<meta name="csrf-token" content="([^"]*)">', r.text)
        return found.group(1) if found else ""

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True,
             origin: str | None = None) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        return self.http.post(path, data=body, headers={"Origin": origin or self.url})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found, "no csrf_token field in the page"
    return found.group(1)


class Browser:
    """Headless Chromium on the console; every visited page leaves a screenshot."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base
        self.test = "session"
        self.shots = 0
        self.expected: list[str] = []  # network failures a test provokes on purpose (url fragment + status)

    def start_test(self, name: str) -> None:
        self.test = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]
        self.shots = 0
        self.expected = []
        # Each test starts logged out, on a page of the site (cookies can only be cleared there).
        self.driver.get(self.base + "/static/console/favicon.svg")
        self.driver.delete_all_cookies()
        self.driver.get_log("browser")  # drop what earlier tests left

    def snap(self, label: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = SCREENSHOTS / f"{self.test}-{self.shots:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)[:60]}.png"
        self.driver.save_screenshot(str(path))
        return path

    def visit(self, path: str, label: str | None = None) -> None:
        self.driver.get(self.base + path)
        self.wait_ready()
        self.snap(label or urlsplit(path).path.strip("/").replace("/", "_") or "root")

    def wait_ready(self) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def wait_for(self, what: str, cond: Callable[[Any], Any], timeout: float = 30) -> Any:
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # A page that updates itself (htmx polling, server-sent events) replaces the element a
        # condition just found: look again on the next poll instead of failing.
        return WebDriverWait(self.driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                             ).until(cond, message=what)

    def path(self) -> str:
        return urlsplit(self.driver.current_url).path

    def login(self, username: str, password: str = PASSWORD) -> None:
        from selenium.webdriver.common.by import By

        self.driver.delete_all_cookies()
        self.visit("/login", "login")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "login-submit").click()
        self.wait_for("the page after the login", lambda d: urlsplit(d.current_url).path != "/login")
        self.wait_ready()
        self.snap(f"after-login-{username}")

    def logout(self) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.ID, "logout").click()
        self.wait_for("the login page", lambda d: urlsplit(d.current_url).path == "/login")
        self.wait_ready()
        self.snap("after-logout")

    def expect_failure(self, url_part: str, status: int) -> None:
        """The test provokes this refusal on purpose: its network error is not a page error."""
        self.expected.append(f"{url_part} - Failed to load resource: the server responded with a status of {status}")

    def js_errors(self) -> list[dict[str, Any]]:
        """SEVERE entries of the browser's console since the last call (less the expected refusals)."""
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"
                and not (e.get("source") == "network" and any(x in e.get("message", "") for x in self.expected))]


def make_driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download a browser or a driver
    options = Options()
    options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000",
                "--disable-gpu", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver")))
    return webdriver.Chrome(service=service, options=options)
