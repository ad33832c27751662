"""Predictions: capacity forecasts and anomaly scores, computed on a schedule, stored as forecast runs
and handed to tickets."""

from collector.features import Feature

FEATURE = Feature(
    name="predictions",
    tables=("collector.predictions.tables",),
    service="collector.predictions.service:predict_service",
    jobs="collector.predictions.service:jobs",
    job_ids=("predictions",),
    router="collector.predictions.api:router",
    cli="collector.predictions.cli:register",
)
