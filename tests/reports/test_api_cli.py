"""The reports API (in process) and ``patrol report`` against a real collector process."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from collector.api import create_api
from collector.cli.client import ApiClient
from collector.cli.reports import write_demo_reports
from collector.localrun import child_env
from tests.integration.harness import TOKEN, CollectorProcess
from tests.reports.conftest import Collector, copy_store, need_cjk_font
from tests.reports.dataset import CONFIG, Dataset

ENGINEER, VIEWER = "engineer-token", "viewer-token"
TOKENS = [{"name": "wang", "token": ENGINEER, "role": "engineer"}, {"name": "dash", "token": VIEWER, "role": "viewer"}]


@pytest.fixture
def api(tmp_path: Path, dataset: Dataset) -> Iterator[TestClient]:
    c = Collector(tmp_path, dataset, api={"tokens": TOKENS})
    with TestClient(create_api(c.app)) as client:
        yield client
    c.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_generates_lists_and_downloads(api: TestClient) -> None:
    need_cjk_font()
    r = api.post("/api/v1/reports", headers=auth(ENGINEER),
                 json={"customer": "acme", "kind": "quarterly", "period": "2026Q3", "formats": ["html", "pdf"]})
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["requested_by"] == "wang" and record["summary"]["tickets"] == 5
    listed = api.get("/api/v1/reports", params={"customer": "acme", "kind": "quarterly"}, headers=auth(VIEWER)).json()
    assert [x["id"] for x in listed] == [record["id"]]
    for doc in record["documents"]:
        got = api.get(f"/api/v1/reports/{record['id']}/{doc['format']}", headers=auth(VIEWER))
        assert got.status_code == 200
        assert got.headers["x-patrol-sha256"] == doc["sha256"] == hashlib.sha256(got.content).hexdigest()
        assert doc["filename"] in got.headers["content-disposition"]
    assert api.get(f"/api/v1/reports/{record['id']}", headers=auth(VIEWER)).json()["period"] == "2026Q3"
    assert api.get("/api/v1/reports/schedule", headers=auth(VIEWER)).json()[0]["customer_id"] == "acme"


def test_api_refuses_with_reasons(api: TestClient) -> None:
    body = {"customer": "acme", "kind": "monthly", "period": "2026-13"}
    assert api.post("/api/v1/reports", headers=auth(VIEWER), json=body).status_code == 403
    bad = api.post("/api/v1/reports", headers=auth(ENGINEER), json=body)
    assert bad.status_code == 400 and "YYYY-MM" in bad.json()["detail"]
    missing = api.get("/api/v1/reports/999/pdf", headers=auth(VIEWER))
    assert missing.status_code == 404 and "no report 999" in missing.json()["detail"]
    assert api.get("/api/v1/reports").status_code == 401


def test_a_period_without_an_inspection_is_refused_unless_forced_and_then_says_so(api: TestClient) -> None:
    need_cjk_font()
    july = {"customer": "acme", "kind": "monthly", "period": "2026-07", "formats": ["html"]}
    refused = api.post("/api/v1/reports", headers=auth(ENGINEER), json=july)
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "no completed inspection covers 2026-07" in detail and "patrol inspect acme --period 2026-07" in detail
    q2 = api.post("/api/v1/reports", headers=auth(ENGINEER), json={**july, "kind": "quarterly", "period": "2026Q2"})
    assert q2.status_code == 400 and "--period 2026-04 and the other months" in q2.json()["detail"]
    forced = api.post("/api/v1/reports", headers=auth(ENGINEER), json={**july, "force": True})
    assert forced.status_code == 201, forced.text
    record = forced.json()
    assert record["summary"]["inspected"] is False
    html = api.get(f"/api/v1/reports/{record['id']}/html", headers=auth(VIEWER)).text
    assert "本周期没有完成的巡检" in html
    # September has its monthly inspection: nothing to force, nothing on the cover.
    sep = api.post("/api/v1/reports", headers=auth(ENGINEER), json={**july, "period": "2026-09"}).json()
    assert sep["summary"]["inspected"] is True
    assert "本周期没有完成的巡检" not in api.get(f"/api/v1/reports/{sep['id']}/html", headers=auth(VIEWER)).text


@pytest.fixture(scope="module")
def collector_process(tmp_path_factory: pytest.TempPathFactory, dataset: Dataset) -> Iterator[CollectorProcess]:
    need_cjk_font()
    work = tmp_path_factory.mktemp("reports-cli")
    db = copy_store(dataset.engine, work / "store.sqlite")
    c = CollectorProcess(work / "collector", store={"url": f"sqlite:///{db}"}, customers=CONFIG["customers"],
                         retention={"rollup_1h": "36500d"})
    c.start()
    yield c
    c.kill(signal.SIGTERM)


def patrol(c: CollectorProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url", c.api,
                           "--token", TOKEN, *args], capture_output=True, text=True, env=child_env(), timeout=300)


def archived_ids(c: CollectorProcess) -> set[int]:
    listed = patrol(c, "reports", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return {r["id"] for r in json.loads(listed.stdout)}


@pytest.mark.integration
def test_cli_writes_reports_and_lists_the_archive(collector_process: CollectorProcess, tmp_path: Path) -> None:
    earlier = archived_ids(collector_process)  # the module's other tests share the collector
    out = tmp_path / "acme-2026-09.pdf"
    done = patrol(collector_process, "report", "monthly", "acme", "--period", "2026-09", "--format", "pdf",
                  "--lang", "zh", "-o", str(out))
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() in done.stdout
    folder = tmp_path / "html"
    folder.mkdir()
    done = patrol(collector_process, "report", "quarterly", "acme", "--period", "2026Q3", "--format", "html",
                  "--lang", "en", "-o", str(folder))
    assert done.returncode == 0, done.stderr
    html = (folder / "acme-quarterly-2026Q3-en.html").read_text(encoding="utf-8")
    assert "设备的整体运行情况" in html and "Overall running status of the equipment" in html
    listed = patrol(collector_process, "reports", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = [r for r in json.loads(listed.stdout) if r["id"] not in earlier]
    assert [(r["kind"], r["period"], r["lang"], r["formats"]) for r in rows] == [
        ("quarterly", "2026Q3", "en", "html"), ("monthly", "2026-09", "zh", "pdf")]
    again = tmp_path / "again.pdf"
    got = patrol(collector_process, "report", "get", str(rows[1]["id"]), "--format", "pdf", "-o", str(again))
    assert got.returncode == 0, got.stderr
    assert again.read_bytes() == data
    bad = patrol(collector_process, "report", "monthly", "acme", "--period", "2026Q3")
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr


@pytest.mark.integration
def test_demo_writes_both_reports_in_both_formats(collector_process: CollectorProcess, tmp_path: Path) -> None:
    paths = write_demo_reports(ApiClient(collector_process.api, TOKEN), "acme", tmp_path / "reports")
    assert [p.suffix for p in paths] == [".html", ".pdf", ".html", ".pdf"]
    assert [p.name.split("-")[1] for p in paths] == ["monthly", "monthly", "quarterly", "quarterly"]
    for p in paths:
        assert p.parent == tmp_path / "reports" and p.stat().st_size > 1000
    assert paths[1].read_bytes().startswith(b"%PDF-")
    runs = httpx.get(f"{collector_process.api}/api/v1/inspections", headers=auth(TOKEN)).json()
    assert runs and runs[0]["profile"] == "monthly" and runs[0]["status"] == "completed"
