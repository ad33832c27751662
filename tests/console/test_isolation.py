"""Tenant isolation: a customer login walks every console and portal route of the collector's app with
the ids of another customer's hosts, tickets and reports (and guessed ones), and finds nothing of it.

The routes come from the app itself (``create_api`` of a collector, every included router flattened),
so pages added later are walked too. Each request must answer without a server error and without any
hostname or ticket title of the other customer; portal routes answer 404 for the other customer's ids,
engineer pages refuse the customer login.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collector.api import create_api
from collector.app import CollectorApp
from collector.config import CollectorConfig
from collector.demo import ConsoleLogin, create_console_logins
from tests.console.harness import PASSWORD, ConsoleHttp, ConsoleSite
from tests.console.pagecheck import mentions
from tests.console.portal_seed import archived_reports, customers, hosts_of, manual_ticket, resolved_ticket

pytestmark = [pytest.mark.integration]

SIDES = ("/portal", "/console")
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
GUESSED = ("999999", "0", "-1", "x", "..%2F..%2Fetc%2Fpasswd")


def app_routes(tmp_path: Path) -> list[tuple[str, frozenset[str]]]:
    """(path, methods) of every route of a collector's HTTP app under /portal and /console."""
    cfg = CollectorConfig.model_validate({"data_dir": str(tmp_path), "insecure": True,
                                          "customers": [{"id": "acme", "name": "ACME"}]})
    app = CollectorApp(cfg)
    try:
        api = create_api(app)
        found = {(path, frozenset(methods)) for path, methods in _flatten(api.routes)}
    finally:
        app.engine.dispose()
    return sorted(r for r in found if r[0].startswith(SIDES))


def _flatten(routes: Iterable[Any]) -> Iterator[tuple[str, set[str]]]:
    for r in routes:
        if hasattr(r, "effective_route_contexts"):  # an included router (FastAPI ≥ 0.16x)
            for ctx in r.effective_route_contexts():
                yield ctx.path, set(ctx.methods or ())
        elif hasattr(r, "routes") and not hasattr(r, "methods"):
            yield from _flatten(r.routes)
        elif hasattr(r, "path"):
            yield r.path, set(getattr(r, "methods", None) or ())


@dataclass
class Tenant:
    customer: str
    hosts: dict[str, str]  # id → hostname
    tickets: dict[int, str]  # id → title
    reports: list[int]


def tenant(site: ConsoleSite, customer: str, reports: dict[str, int]) -> Tenant:
    marker = f"secret request of {customer}"
    manual_ticket(site, customer, marker)
    resolved_ticket(site, customer, f"resolved problem of {customer}")
    with site.api() as api:
        tickets = {t["id"]: t["title"] for t in api.get("/api/v1/tickets", params={"customer": customer,
                                                                                  "limit": 5000}).json()}
        listed = [r["id"] for r in api.get("/api/v1/reports", params={"customer": customer}).json()]
    return Tenant(customer, hosts_of(site, customer), tickets, sorted({reports[customer], *listed}))


def fill(path: str, victim: Tenant) -> list[str]:
    """The path with each parameter set to the victim's real ids and to guesses (capped product)."""
    names = PARAM.findall(path)
    hosts, tickets, reports = list(victim.hosts), [str(i) for i in victim.tickets], [str(i) for i in victim.reports]
    choices: list[list[str]] = []
    for name in names:
        low = name.lower()
        if "host" in low:
            values = hosts
        elif "ticket" in low:
            values = tickets
        elif "report" in low:
            values = reports
        elif low in ("fmt", "format"):
            values = ["pdf", "html"]
        elif low in ("rest", "path"):
            values = [f"hosts/{h}" for h in hosts[:2]] + [f"tickets/{t}" for t in tickets[:2]] + ["x"]
        else:
            values = [*hosts[:2], *tickets[:2], *reports[:2]]
        choices.append(list(dict.fromkeys([*values[:6], *GUESSED])))
    out = []
    for combo in itertools.islice(itertools.product(*choices), 60):
        filled = path
        for value in combo:
            filled = PARAM.sub(value, filled, count=1)
        out.append(filled)
    return out or [path]


def leaks(text: str, victim: Tenant, attacker: Tenant) -> list[str]:
    """The victim's hostnames and ticket titles found in a response (titles the attacker has too excluded)."""
    own_titles = set(attacker.tickets.values())
    secrets = [*victim.hosts.values(), *(t for t in victim.tickets.values() if t not in own_titles)]
    return [s for s in secrets if mentions(text, s)]


def test_a_short_hostname_inside_a_random_token_is_not_a_leak() -> None:
    # The local agent is named after the machine ("vm" on some); a page's CSRF token may hold those letters.
    victim = Tenant("acme", {"h1": "vm"}, {1: "disk full on vm"}, [])
    attacker = Tenant("other", {}, {}, [])
    assert leaks('<input name="csrf_token" value="q3vmZ-_x9">', victim, attacker) == []
    assert leaks('<td>vm</td>', victim, attacker) == ["vm"]
    assert leaks('<p>主机vm的磁盘</p>', victim, attacker) == ["vm"]  # beside Chinese text it is still shown
    assert leaks('{"title": "disk full on vm"}', victim, attacker) == ["vm", "disk full on vm"]


def walk(routes: list[tuple[str, frozenset[str]]], who: ConsoleHttp, attacker: Tenant, victim: Tenant
         ) -> tuple[int, list[str]]:
    problems: list[str] = []
    requests = 0
    for path, methods in routes:
        for url in fill(path, victim):
            for method in sorted(methods & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
                if method == "GET":
                    r = who.http.get(url)
                else:
                    r = who.http.request(method, url, data={"csrf_token": who.csrf, "customer": victim.customer,
                                                            "customer_id": victim.customer, "title": "x",
                                                            "description": "x", "host": next(iter(victim.hosts))},
                                         headers={"Origin": who.url})
                requests += 1
                where = f"{method} {url} ({path}) → {r.status_code}"
                if r.status_code >= 500:
                    problems.append(f"server error: {where}")
                found = leaks(r.text, victim, attacker)
                if found:
                    problems.append(f"{where} shows {found[:3]}")
                has_victim_id = url != path and any(v in url for v in (*victim.hosts, *map(str, victim.tickets),
                                                                       *map(str, victim.reports)))
                if path.startswith("/console"):
                    ok = r.status_code in (401, 403, 404, 405, 422) or (
                        r.status_code in (302, 303, 307) and not r.headers.get("location", "").startswith("/console"))
                    if not ok:
                        problems.append(f"engineer route answered a customer: {where}")
                elif has_victim_id and r.status_code not in (404, 405, 422):
                    problems.append(f"another customer's id did not answer 404: {where}")
    return requests, problems


def victim_state(site: ConsoleSite, victim: Tenant) -> tuple[dict[int, object], list[int]]:
    """The rating of each ticket of the victim, and its tickets registered through the portal."""
    with site.api() as api:
        rows = api.get("/api/v1/tickets", params={"customer": victim.customer, "limit": 5000}).json()
        details = [api.get(f"/api/v1/tickets/{t['id']}").json() for t in rows]
    return ({t["id"]: t["satisfaction"] for t in details},
            sorted(t["id"] for t in details if t["registration"].get("channel") == "web"
                   and str(t["reporter"]).startswith("customer:")))


@pytest.fixture(scope="module")
def tenants(site: ConsoleSite) -> tuple[Tenant, Tenant]:
    a, b = customers(site)
    create_console_logins(site.url, site.demo.token, [ConsoleLogin("customer-b", PASSWORD, "customer", b, "en")])
    reports = archived_reports(site)
    return tenant(site, a, reports), tenant(site, b, reports)


def test_a_customer_finds_nothing_of_another_customer_on_any_route(site: ConsoleSite, tenants: tuple[Tenant, Tenant],
                                                                   tmp_path: Path) -> None:
    routes = app_routes(tmp_path)
    portal = [r for r in routes if r[0].startswith("/portal")]
    assert len(portal) >= 8 and any(p.startswith("/console/reports") for p, _ in routes)
    a, b = tenants
    total, problems = 0, []
    for username, attacker, victim in (("customer", a, b), ("customer-b", b, a)):
        who = ConsoleHttp(site.url, username, PASSWORD)
        before = victim_state(site, victim)
        n, found = walk(routes, who, attacker, victim)
        total += n
        problems += [f"{username}: {p}" for p in found]
        # The walk changed nothing of the victim's: no rating, no request in its name.
        assert victim_state(site, victim) == before
        # Still logged in (the walk did not end its own session) and its own pages work.
        own = who.http.get("/portal")
        assert own.status_code == 200 and any(h in own.text for h in attacker.hosts.values())
        # The session cookie opens no token-protected API.
        assert who.http.get("/api/v1/hosts").status_code == 401
    print(f"isolation walk: {len(routes)} routes, {total} requests")
    assert not problems, "\n".join(problems[:40])
