"""One real collector process with data, shared by the hostile HTTP tests of a test session (or worker)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.http_hostile.app import Known, hostile_api
from tests.reports.dataset import build_dataset


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Known]]:
    dataset = build_dataset(tmp_path_factory.mktemp("hostile-data"))
    with hostile_api(tmp_path_factory.mktemp("hostile-api"), dataset) as pair:
        yield pair
