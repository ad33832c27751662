"""forecast runs: the stored results of each predictions pass

Revision ID: 9c3f1e2d4b5a
Revises: 8d3f2a61c0b5
Create Date: 2026-12-07 05:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9c3f1e2d4b5a"
down_revision: str | Sequence[str] | None = "8d3f2a61c0b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forecast_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("computed_ms", sa.BigInteger(), nullable=False),
        sa.Column("host_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("series", sa.String(length=200), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("window_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("window_end_ms", sa.BigInteger(), nullable=False),
        sa.Column("step_s", sa.Float(), nullable=False),
        sa.Column("eta_ms", sa.BigInteger(), nullable=True),
        sa.Column("eta_low_ms", sa.BigInteger(), nullable=True),
        sa.Column("eta_high_ms", sa.BigInteger(), nullable=True),
        sa.Column("limit_value", sa.Float(), nullable=True),
        sa.Column("slope_per_day", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("firing", sa.Boolean(), nullable=True),
        sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_runs")),
    )
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.create_index("ix_forecast_runs_computed", ["computed_ms"], unique=False)
        batch_op.create_index("ix_forecast_runs_series", ["host_id", "series", "kind", "labels", "computed_ms"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_runs_series")
        batch_op.drop_index("ix_forecast_runs_computed")
    op.drop_table("forecast_runs")
