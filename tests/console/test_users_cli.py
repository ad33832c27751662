"""``patrol users`` against the running collector: add, list, passwd, disable — and the logins follow."""

from __future__ import annotations

import subprocess

import pytest

from collector.demo import ConsoleLogin
from collector.localrun import REPO_ROOT, child_env
from tests.console.harness import ConsoleSite
from tests.demo.helpers import PATROL

pytestmark = [pytest.mark.integration]


def patrol(site: ConsoleSite, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**child_env(), "PATROL_URL": site.url, "PATROL_TOKEN": site.demo.token}
    return subprocess.run([PATROL, *args], input=stdin, capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                          timeout=120)


def test_users_commands(site: ConsoleSite) -> None:
    customer = str(site.demo.customers[1]["id"])
    r = patrol(site, "users", "add", "wang.fang", "--role", "customer", "--customer", customer, "--lang", "zh",
               "--name", "王芳", "--password-stdin", stdin="first-password\n")
    assert r.returncode == 0, r.stderr
    listed = patrol(site, "users", "list", "--format", "json")
    assert '"wang.fang"' in listed.stdout and customer in listed.stdout
    site.logins["wang.fang"] = ConsoleLogin("wang.fang", "first-password", "customer", customer)
    s = site.session("wang.fang")
    assert s.http.get("/").headers["location"] == "/portal"
    assert patrol(site, "users", "passwd", "wang.fang", "--password-stdin", stdin="second-password\n").returncode == 0
    assert s.http.get("/").headers["location"] == "/login"  # the new password ended the session
    site.logins["wang.fang"] = ConsoleLogin("wang.fang", "second-password", "customer", customer)
    s = site.session("wang.fang")
    assert patrol(site, "users", "disable", "wang.fang").returncode == 0
    assert s.http.get("/").headers["location"] == "/login"
    bad = patrol(site, "users", "add", "x", "--role", "customer", "--password-stdin", stdin="long enough\n")
    assert bad.returncode != 0 and "customer" in (bad.stderr + bad.stdout)
    short = patrol(site, "users", "add", "y", "--role", "engineer", "--password-stdin", stdin="short\n")
    assert short.returncode != 0 and "8 characters" in (short.stderr + short.stdout)
