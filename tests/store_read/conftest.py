from tests.store_pg.fixtures import postgres_server, postgres_url, store_url  # noqa: F401
