"""常见问题及解决方案: the knowledge base built from ticket closures, through the API and the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from collector.api import create_api
from collector.app import CollectorApp
from collector.cli import app as patrol
from collector.config import CollectorConfig
from collector.localrun import free_port, wait_until
from collector.tickets.knowledge import knowledge_base, problem_text
from collector.tickets.model import Closure, Severity, Signal, Source
from collector.tickets.service import ManualTicket, TicketService
from tests.tickets.helpers import FakeClock

VIEWER = {"Authorization": "Bearer view-token"}
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[CollectorApp]:
    clock = FakeClock(NOW - timedelta(days=60))
    cfg = CollectorConfig.model_validate({
        "data_dir": str(tmp_path), "insecure": True,
        "api": {"tokens": [{"name": "viewer", "role": "viewer", "token": "view-token"}]},
        "customers": [{"id": "acme", "name": "ACME", "timezone": "Asia/Shanghai", "language": "zh"},
                      {"id": "globex", "name": "Globex", "timezone": "Europe/Berlin"}],
    })
    a = CollectorApp(cfg, clock=clock)
    svc = TicketService(a.engine, cfg.section("tickets"), {c.id: c for c in cfg.customers}, clock)

    def disk_fault(customer: str, host: str, at: datetime, solution: str) -> None:
        clock.set(at)
        opened = svc.ingest([Signal(Source.INSPECTION, "resources.disk_space", "/var/log", True, at, host_id=host,
                                    customer_id=customer, severity=Severity.L3,
                                    title=f"/var/log 使用率过高 on {host}")]).opened[0]
        clock.set(at + timedelta(hours=3))
        svc.resolve(opened, "王工", closure=Closure(cause="日志未轮转", solution=solution, prevention="纳入巡检基线"))
        clock.set(at + timedelta(hours=4))
        svc.close(opened, "王工")

    disk_fault("acme", "web-01", NOW - timedelta(days=50), "清理旧日志")
    disk_fault("acme", "web-01", NOW - timedelta(days=20), "启用 logrotate 压缩")  # the same problem, again
    disk_fault("globex", "db-01", NOW - timedelta(days=10), "compressed old logs")
    clock.set(NOW - timedelta(days=5))
    raid = svc.create_manual("王工", ManualTicket("acme", "db-02: 数据库响应超时", severity=Severity.L1,
                                                  host_id="db-02"))
    clock.set(NOW - timedelta(days=5) + timedelta(hours=2))
    svc.resolve(raid.id, "王工", closure=Closure(cause="RAID 卡电池失效", solution="更换 RAID 卡电池", prevention=""))
    svc.create_manual("王工", ManualTicket("acme", "still open, no closure"))
    clock.set(NOW)
    yield a
    a.engine.dispose()


def test_problems_are_counted_by_frequency_with_the_newest_answer(app: CollectorApp) -> None:
    with app.engine.connect() as conn:
        found = knowledge_base(conn, "acme")
    assert [(p.count, p.problem) for p in found] == [(2, "/var/log 使用率过高"), (1, "数据库响应超时")]
    disk = found[0]
    assert disk.solution == "启用 logrotate 压缩" and disk.cause == "日志未轮转"
    assert disk.solutions == ("启用 logrotate 压缩", "清理旧日志")
    assert disk.customers == ("acme",) and disk.hosts == ("web-01",) and len(disk.ticket_ids) == 2
    with app.engine.connect() as conn:
        everyone = knowledge_base(conn)
        assert [p.count for p in everyone] == [3, 1]
        # Resolved within a period, for a report.
        assert [p.count for p in knowledge_base(conn, since=NOW - timedelta(days=30))] == [2, 1]


def test_search_needs_every_word_in_any_case(app: CollectorApp) -> None:
    with app.engine.connect() as conn:
        assert [p.problem for p in knowledge_base(conn, query="RAID 电池")] == ["数据库响应超时"]
        assert [p.count for p in knowledge_base(conn, query="LOGROTATE")] == [3]
        assert knowledge_base(conn, query="raid logrotate") == []


def test_the_host_name_is_left_out_of_the_problem() -> None:
    assert problem_text("Disk /data on fs-01 full within 7d", "fs-01") == "Disk /data full within 7d"
    assert problem_text("fs-01: /data 预计 6 天内写满", "fs-01") == "/data 预计 6 天内写满"
    assert problem_text("no host here", None) == "no host here"
    assert problem_text("/var/log full on 3f2a-agent", None, "3f2a-agent") == "/var/log full"


def test_api_searches_and_filters_by_customer(app: CollectorApp) -> None:
    client = TestClient(create_api(app))
    assert client.get("/api/v1/knowledge").status_code == 401
    rows = client.get("/api/v1/knowledge", params={"q": "logrotate"}, headers=VIEWER).json()
    assert [(r["count"], r["solution"]) for r in rows] == [(3, "compressed old logs")]
    rows = client.get("/api/v1/knowledge", params={"customer": "globex"}, headers=VIEWER).json()
    assert [r["count"] for r in rows] == [1]
    assert client.get("/api/v1/knowledge", params={"customer": "nobody"}, headers=VIEWER).status_code == 404


def test_the_cli_searches_through_a_running_api(app: CollectorApp) -> None:
    server = uvicorn.Server(uvicorn.Config(create_api(app), host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "the API server")
        base = ["--url", f"http://127.0.0.1:{server.config.port}", "--token", "view-token"]
        out = CliRunner().invoke(patrol, [*base, "tickets", "knowledge", "RAID"], env={"COLUMNS": "200"})
        assert out.exit_code == 0, out.output
        assert "常见问题及解决方案 — 1 problems matching 'RAID'" in out.output and "更换 RAID 卡电池" in out.output
        out = CliRunner().invoke(patrol, [*base, "tickets", "knowledge", "--format", "json"])
        assert out.exit_code == 0, out.output
        assert [r["count"] for r in json.loads(out.output)] == [3, 1]
        out = CliRunner().invoke(patrol, [*base, "tickets", "knowledge", "nothing-like-this"])
        assert "no resolved problem matches 'nothing-like-this'" in out.output
    finally:
        server.should_exit = True
        thread.join(10)
