"""Forecast-run store tests run on SQLite and on PostgreSQL (the ``store_url`` fixture)."""

from tests.store_pg.fixtures import postgres_server, store_url  # noqa: F401
