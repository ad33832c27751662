"""Store fixtures shared by every test package that runs against both SQLite and PostgreSQL.

Import them into a package's ``conftest.py``:

    from tests.store_pg.fixtures import postgres_server, postgres_url, store_url  # noqa: F401

``store_url`` is parametrized: each test that takes it runs once on a SQLite file and once on a fresh
database of a throwaway PostgreSQL server (one server per test process, see ``server.py``). Without
PostgreSQL the PostgreSQL half is skipped, except under ``CI=true``, where it fails: CI installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store_pg.server import INSTALL_HINT, PostgresServer, PostgresUnavailable, shared_server

BACKENDS = ("sqlite", "postgresql")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def postgres_or_skip() -> PostgresServer:
    try:
        return shared_server()
    except PostgresUnavailable as e:
        if in_ci():
            pytest.fail(f"CI must test PostgreSQL: {e}", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {e}")


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'patrol.sqlite'}"


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    return postgres_or_skip()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database, dropped after the test."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty state store: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with postgres_or_skip().database() as url:
        yield url


__all__ = ["BACKENDS", "INSTALL_HINT", "postgres_server", "postgres_url", "sqlite_url", "store_url"]
