from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.agent_probes.servers import CertFiles, http_server, make_cert

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CertFiles]:
    """Self-signed certificates: valid for 20 days, expired 3 days ago."""
    directory = tmp_path_factory.mktemp("certs")
    return {
        "valid": make_cert(directory, "valid", not_after=NOW + dt.timedelta(days=20)),
        "expired": make_cert(directory, "expired", not_after=NOW - dt.timedelta(days=3)),
    }


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    with http_server() as (url, _):
        yield url


@pytest.fixture(scope="module")
def https_base(certs: dict[str, CertFiles]) -> Iterator[str]:
    with http_server(certs["valid"]) as (url, _):
        yield url
