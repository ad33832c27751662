"""The provider's service-quality report (服务质量关键指标分析): figures summed over customers, HTML and PDF."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.api import create_api
from collector.app import CollectorApp
from collector.config import CollectorConfig
from collector.demo import demo_customers
from collector.reporting.quality import build_quality
from collector.reporting.service import create_service
from collector.reporting.ticket_stats import TicketData
from collector.simulator import FleetSpec, build_fleet
from collector.simulator.service_history import write_service_history
from collector.tickets.service import TicketService
from reports.periods import Period
from reports.quality import HISTOGRAM_EDGES_S, histogram
from tests.tickets.helpers import FakeClock

END = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
VIEWER = {"Authorization": "Bearer view-token"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorApp]:
    tmp = tmp_path_factory.mktemp("quality")
    cfg = CollectorConfig.model_validate({
        "data_dir": str(tmp), "insecure": True, "customers": demo_customers(3),
        "api": {"tokens": [{"name": "viewer", "role": "viewer", "token": "view-token"}]},
        "reports": {"provider": "华信技术服务部"}})
    a = CollectorApp(cfg, clock=FakeClock(END))
    service = create_service(a)
    assert service is not None
    a.services.append(service)
    write_service_history(lambda clock: TicketService(a.engine, cfg.section("tickets"),
                                                      {c.id: c for c in cfg.customers}, clock),
                          build_fleet(FleetSpec(agents=12, customers=3, seed=1)), END - timedelta(days=1))
    yield a
    a.engine.dispose()


def test_figures_are_the_customers_figures_summed(app: CollectorApp) -> None:
    q4 = Period.parse("2026Q4")
    report = build_quality(app.engine, app.cfg.section("tickets"), list(app.cfg.customers), "华信技术服务部", q4,
                           "Asia/Shanghai", END)
    assert [c.customer_id for c in report.by_customer] == ["acme", "huaxin", "globex"]
    start = report.period_start
    with app.engine.connect() as conn:
        each = [TicketData(conn, app.cfg.section("tickets"), c.id, c.timezone, start, END, {})
                for c in app.cfg.customers]
    assert report.tickets == sum(len(d.created()) for d in each) > 0
    respond = next(s for s in report.sla if s.clock == "respond")
    assert respond.met == sum(x.met for d in each for x in d.sla() if x.clock == "respond")
    assert respond.met > 0 and respond.breached > 0
    assert sum(s.tickets for s in report.by_severity) == report.tickets
    assert sum((s.respond.met if s.respond else 0) for s in report.by_severity) == respond.met
    assert report.repeats == sum(len(d.repeats()) for d in each) >= 1
    assert report.satisfaction.ratings == sum(d.satisfaction().ratings for d in each) > 0
    assert 0 < report.satisfaction.overall_pct <= 100  # type: ignore[operator]
    restore_hist = next(h for h in report.histograms if h.clock == "restore")
    assert sum(restore_hist.counts) == next(t.count for t in report.times if t.clock == "restore")
    assert report.knowledge and report.knowledge[0].count >= report.knowledge[-1].count
    assert report.knowledge[0].count >= 2  # the repeat fault


def test_histogram_buckets() -> None:
    h = histogram("respond", [0, 899, 900, 3600, 5 * 3600, 13 * 3600, 30 * 3600])
    assert h.counts == (2, 1, 1, 1, 1, 1) and len(h.counts) == len(HISTOGRAM_EDGES_S) + 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_reads_as_a_provider_document(app: CollectorApp, lang: str, tmp_path: Path) -> None:
    with TestClient(create_api(app)) as client:
        r = client.get("/api/v1/reports/service-quality", params={"period": "2026Q4", "lang": lang},
                       headers=VIEWER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdf = tmp_path / "q.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    headings = (["服务质量关键指标分析", "按严重级别的 SLA 达标情况", "按客户的 SLA 达标情况", "响应与恢复时间分布",
                 "客户满意度", "90 天重复故障率", "常见问题及解决方案", "华信物流有限公司"] if lang == "zh" else
                ["Service quality key indicators", "SLA compliance by severity", "Known problems and their solutions",
                 "Globex Corporation"])
    for heading in headings:
        assert heading in text, heading
    for internal in ("resources.disk_space", "mem.used_percent", "forecast:", "anomaly:", "patrol "):
        assert internal not in text


def test_bad_periods_are_refused(app: CollectorApp) -> None:
    with TestClient(create_api(app)) as client:
        for period, problem in (("2027Q1", "has not begun"), ("Q4", "cannot read period")):
            r = client.get("/api/v1/reports/service-quality", params={"period": period, "format": "html"},
                           headers=VIEWER)
            assert r.status_code == 400 and problem in r.json()["detail"]
        r = client.get("/api/v1/reports/service-quality", params={"period": "2026Q4", "timezone": "Mars/Base"},
                       headers=VIEWER)
        assert r.status_code == 400 and "unknown time zone" in r.json()["detail"]
