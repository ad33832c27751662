"""The forecast runs table: what each predictions run computed per series, read by every consumer.

One row per (run, host, series, labels, kind). Times are unix ms of the collector's clock; ETAs
too. ``result`` holds the whole result (the forecaster's figures or the anomaly episode) and the
recent input points, so tickets, the API and reports render from the row alone.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text

from collector.store.schema import JsonDoc, metadata

forecast_runs = Table(
    "forecast_runs",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("computed_ms", BigInteger, nullable=False),
    Column("host_id", String(128), nullable=False),
    Column("customer_id", String(128), nullable=True),
    Column("series", String(200), nullable=False),
    Column("labels", Text, nullable=False),  # labels as k=v,k=v sorted by key: the ticket's subject
    Column("kind", String(16), nullable=False),  # capacity | anomaly
    Column("method", String(64), nullable=False),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("window_end_ms", BigInteger, nullable=False),
    Column("step_s", Float, nullable=False),
    Column("eta_ms", BigInteger, nullable=True),
    Column("eta_low_ms", BigInteger, nullable=True),
    Column("eta_high_ms", BigInteger, nullable=True),
    Column("limit_value", Float, nullable=True),
    Column("slope_per_day", Float, nullable=True),
    Column("confidence", Float, nullable=True),
    Column("score", Float, nullable=True),  # anomaly likelihood of the episode
    Column("firing", Boolean, nullable=True),  # anomaly: an episode that meets the policy is current
    Column("result", JsonDoc, nullable=False),
)

Index("ix_forecast_runs_series", forecast_runs.c.host_id, forecast_runs.c.series, forecast_runs.c.kind,
      forecast_runs.c.labels, forecast_runs.c.computed_ms)
Index("ix_forecast_runs_computed", forecast_runs.c.computed_ms)
