"""Store fixtures: the PKI's tables are tested on SQLite and on PostgreSQL."""

from tests.store_pg.fixtures import postgres_server, store_url  # noqa: F401
