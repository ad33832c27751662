"""compacted hourly rollups: packed blocks of three days per series (rollup_1h_blocks)

Existing hourly rows stay live in rollup_1h and are read as before; the compaction job packs their
completed days. A downgrade unpacks the blocks back into rollup_1h rows first.

Revision ID: 0f598acdb5ee
Revises: 9c3e5a1f7b20
Create Date: 2026-12-07 06:20:58.165207+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0f598acdb5ee"
down_revision: str | Sequence[str] | None = "9c3e5a1f7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollup_1h_blocks",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("buckets", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "block", name=op.f("pk_rollup_1h_blocks")),
    )
    with op.batch_alter_table("rollup_1h_blocks", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_1h_blocks_block", ["block"], unique=False)


def downgrade() -> None:
    _unpack_blocks()
    with op.batch_alter_table("rollup_1h_blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_1h_blocks_block")

    op.drop_table("rollup_1h_blocks")


def _unpack_blocks() -> None:
    """Every packed bucket back into rollup_1h, merged with a live row of the same hour (late data)."""
    from collector.store.bulk import insert_rows
    from collector.store.read.packed import unpack
    from collector.store.rollup import ROLLUP_PG_TYPES, _merge_rollup_sql

    conn = op.get_bind()
    head, tail = _merge_rollup_sql(conn, "rollup_1h")
    after = -1
    while True:  # a slice of series at a time: memory stays bounded
        ids = [r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT series_id FROM rollup_1h_blocks WHERE series_id > :after ORDER BY series_id LIMIT 200"),
            {"after": after})]
        if not ids:
            return
        after = ids[-1]
        packed = conn.execute(sa.text("SELECT series_id, block, data FROM rollup_1h_blocks WHERE series_id >= :lo "
                                      "AND series_id <= :hi"), {"lo": ids[0], "hi": ids[-1]}).all()
        table = unpack([r[2] for r in packed], [r[0] for r in packed], [r[1] for r in packed], 3600)
        rows = [(int(r[0]), int(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5]), float(r[6]), int(r[7]))
                for r in table]
        insert_rows(conn, head, tail, rows, ROLLUP_PG_TYPES)
