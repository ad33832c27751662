"""Data the portal, report and isolation tests share on the session's collector: archived reports and
tickets of both simulated customers, made once through the collector's API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.console.harness import ConsoleSite

_reports: dict[int, dict[str, int]] = {}


def customers(site: ConsoleSite) -> tuple[str, str]:
    return str(site.demo.customers[0]["id"]), str(site.demo.customers[1]["id"])


def hosts_of(site: ConsoleSite, customer: str) -> dict[str, str]:
    with site.api() as api:
        return {h["id"]: h["hostname"] for h in api.get("/api/v1/hosts", params={"customer": customer}).json()}


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def archived_reports(site: ConsoleSite) -> dict[str, int]:
    """One archived monthly report (HTML and PDF) of the current month per customer (made once per session)."""
    key = id(site)
    if key not in _reports:
        out: dict[str, int] = {}
        with site.api() as api:
            for customer in site.demo.customers:
                cid = str(customer["id"])
                r = api.post("/api/v1/reports", json={"customer": cid, "kind": "monthly", "period": this_month(),
                                                      "formats": ["html", "pdf"]}, timeout=300)
                assert r.status_code == 201, r.text
                out[cid] = int(r.json()["id"])
        _reports[key] = out
    return _reports[key]


def manual_ticket(site: ConsoleSite, customer: str, title: str | None = None) -> dict[str, Any]:
    with site.api() as api:
        r = api.post("/api/v1/tickets", json={"customer_id": customer, "severity": "L3",
                                              "title": title or f"request {uuid.uuid4().hex[:8]}",
                                              "description": "printer queue stuck"})
        assert r.status_code == 200, r.text
        return dict(r.json())


def resolved_ticket(site: ConsoleSite, customer: str, title: str) -> dict[str, Any]:
    """A manual ticket of ``customer``, acknowledged and resolved with a closure record by an engineer."""
    t = manual_ticket(site, customer, title)
    with site.api() as api:
        assert api.post(f"/api/v1/tickets/{t['id']}/ack", json={}).status_code == 200
        r = api.post(f"/api/v1/tickets/{t['id']}/resolve", json={"closure": {
            "cause": "spooler crashed", "solution": "restarted the spooler", "prevention": "watchdog added"}})
        assert r.status_code == 200, r.text
        return dict(r.json())
