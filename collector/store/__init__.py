"""The state store: tables, engine, schema migrations, rollups and read queries."""

import logging

# Alembic narrates at INFO every migration context it opens (the start-up schema check opens one each
# time) and every plugin it loads; the migration steps actually applied are logged by
# collector/store/migrations/env.py under "patrol.store".
logging.getLogger("alembic").setLevel(logging.WARNING)
