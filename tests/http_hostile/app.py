"""A real collector process over a copy of a real SQLite store with hosts, tickets, runs and a report."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.harness import TOKEN, CollectorProcess
from tests.reports.conftest import copy_store
from tests.reports.dataset import CONFIG, Dataset

ADMIN = TOKEN


@dataclass(frozen=True)
class Known:
    """Ids and names that exist in the store, so hostile values also reach handlers past their 404."""

    hosts: tuple[str, ...]
    tickets: tuple[int, ...]
    runs: tuple[int, ...]
    reports: tuple[int, ...]
    windows: tuple[int, ...]


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def hostile_api(tmp: Path, dataset: Dataset) -> Iterator[tuple[httpx.Client, Known]]:
    db = copy_store(dataset.engine, tmp / "store.sqlite")
    collector = CollectorProcess(tmp / "collector", store={"url": f"sqlite:///{db}"}, customers=CONFIG["customers"],
                                 retention={"rollup_1h": "36500d"})
    collector.start()
    try:
        with httpx.Client(base_url=collector.api, timeout=60) as client:
            report = client.post("/api/v1/reports", headers=auth(), json={
                "customer": "acme", "kind": "monthly", "period": "2026-09", "formats": ["html"]})
            assert report.status_code == 201, report.text
            window = client.post("/api/v1/maintenance", headers=auth(), json={
                "customer": "acme", "hours": "02:00-04:00", "reason": "backup"})
            assert window.status_code == 200, window.text
            hosts = client.get("/api/v1/hosts", headers=auth()).json()
            tickets = client.get("/api/v1/tickets", headers=auth()).json()
            known = Known(hosts=tuple(h["id"] for h in hosts), tickets=tuple(t["id"] for t in tickets),
                          runs=tuple(dataset.runs.values()), reports=(report.json()["id"],),
                          windows=(window.json()["id"],))
            assert known.hosts and known.tickets and known.runs
            yield client, known
    finally:
        collector.kill(signal.SIGTERM)
