"""Job tests run their collector-group cases on PostgreSQL (the ``postgres_url`` fixture)."""

from tests.store_pg.fixtures import postgres_server, postgres_url  # noqa: F401
