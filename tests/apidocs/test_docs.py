"""``/docs`` works on an air-gapped network: every asset it references is served by the collector itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.api import create_api
from collector.app import CollectorApp
from collector.config import CollectorConfig


class _References(HTMLParser):
    """The URLs an HTML page makes a browser load (scripts, stylesheets, icons, images)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    cfg = CollectorConfig.model_validate({"data_dir": str(tmp_path), "insecure": True,
                                          "customers": [{"id": "acme", "name": "ACME"}]})
    app = CollectorApp(cfg)
    yield TestClient(create_api(app))
    app.engine.dispose()


def test_docs_reference_only_local_assets_that_answer(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    assert not re.search(r"https?://", r.text), "the docs page must not load anything from the Internet"
    parser = _References()
    parser.feed(r.text)
    assert any(u.endswith(".js") for u in parser.urls) and any(u.endswith(".css") for u in parser.urls)
    for url in parser.urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0, url
    # The page fetches the API description from the collector too.
    assert client.get("/openapi.json").json()["info"]["title"] == "Patrol collector API"


def test_root_leads_to_the_docs(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/docs"
    assert client.get("/redoc").status_code == 404  # only Swagger UI is shipped
