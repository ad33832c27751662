"""Fixtures shared by the inspection tests: state stores on SQLite and PostgreSQL."""

from tests.store_pg.fixtures import postgres_server, store_url  # noqa: F401
