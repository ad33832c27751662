from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from collector.app import CollectorApp
from collector.config import CollectorConfig
from collector.reporting.builder import ReportBuilder
from collector.reporting.config import ReportsConfig
from collector.reporting.service import ReportService, create_service
from reports import MonthlyReport, Period, QuarterlyReport
from reports.fonts import CJK_FAMILY, find_font
from tests.reports.dataset import CONFIG, NOW, RETENTION, Dataset, FakeClock, build_dataset


def need(tool: str) -> str:
    """The path of a command-line tool the test needs: skip without it, but fail in CI."""
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not installed (Debian package poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must install it")
        pytest.skip(reason)
    return path


def need_cjk_font() -> None:
    if find_font(CJK_FAMILY) is None:
        reason = f"the font {CJK_FAMILY!r} is not installed (Debian package fonts-noto-cjk)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must install it")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return build_dataset(tmp_path_factory.mktemp("reports-data"))


@pytest.fixture(scope="session")
def builder(dataset: Dataset) -> ReportBuilder:
    return ReportBuilder(dataset.engine, RETENTION, dataset.tickets_cfg, ReportsConfig(), dataset.clock)


@pytest.fixture(scope="session")
def monthly(builder: ReportBuilder) -> MonthlyReport:
    report = builder.build("acme", Period.parse("2026-09"))
    assert isinstance(report, MonthlyReport)
    return report


@pytest.fixture(scope="session")
def quarterly(builder: ReportBuilder) -> QuarterlyReport:
    report = builder.build("acme", Period.parse("2026Q3"))
    assert isinstance(report, QuarterlyReport)
    return report


def copy_store(engine: Engine, target: Path) -> Path:
    """A consistent copy of the dataset's SQLite file (the backup API copes with WAL)."""
    url = engine.url.database
    assert url is not None
    src = sqlite3.connect(url)
    dst = sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


class Collector:
    """A collector app (not started) over a copy of the dataset, with its report service."""

    def __init__(self, tmp: Path, dataset: Dataset, **sections: Any) -> None:
        db = copy_store(dataset.engine, tmp / "patrol.sqlite")
        raw = {**CONFIG, "data_dir": str(tmp / "data"), "store": {"url": f"sqlite:///{db}"},
               "retention": {"rollup_1h": "36500d"}, **sections}
        self.cfg = CollectorConfig.model_validate(raw)
        self.clock = FakeClock(NOW)
        self.app = CollectorApp(self.cfg, self.clock)
        service = create_service(self.app)
        assert service is not None
        self.service: ReportService = service
        self.app.services.append(service)

    @property
    def engine(self) -> Engine:
        return self.app.engine

    def close(self) -> None:
        self.app.engine.dispose()


@pytest.fixture
def collector(tmp_path: Path, dataset: Dataset) -> Iterator[Collector]:
    c = Collector(tmp_path, dataset)
    yield c
    c.close()
