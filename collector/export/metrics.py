"""Prometheus metrics of the export, on the collector's ``/metrics`` next to ``patrol_samples_accepted_total``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from collector.metrics import REGISTRY

samples_exported = Counter(
    "patrol_export_samples_total", "Samples the export target acknowledged (count once their batch is complete)",
    registry=REGISTRY,
)
events_exported = Counter("patrol_export_events_total", "Log events the export target acknowledged",
                          registry=REGISTRY)
points_written = Counter("patrol_export_points_total", "Points (line protocol lines) acknowledged, by stream",
                         ["stream"], registry=REGISTRY)
bytes_written = Counter("patrol_export_bytes_total", "Uncompressed line protocol bytes acknowledged",
                        registry=REGISTRY)
write_errors = Counter(
    "patrol_export_write_errors_total", "Failed write requests, by HTTP status (or 'network')", ["status"],
    registry=REGISTRY,
)
points_dropped = Counter(
    "patrol_export_points_dropped_total",
    "Points the target refused for good (malformed: 400, unprocessable: 422), by reason", ["reason"],
    registry=REGISTRY,
)
values_skipped = Counter(
    "patrol_export_values_skipped_total", "Sample values line protocol cannot carry (NaN, infinity)",
    registry=REGISTRY,
)
queue_points = Gauge("patrol_export_queue_points", "Points read from the store and waiting for the target",
                     registry=REGISTRY)
lag_rows = Gauge(
    "patrol_export_lag_rows", "Newest row id in the store minus the export cursor (samples: ingest_log batches)",
    ["stream"], registry=REGISTRY,
)
lag_seconds = Gauge(
    "patrol_export_lag_seconds", "Age of the oldest batch not yet acknowledged by the target (0: caught up)",
    registry=REGISTRY,
)
cursor_id = Gauge("patrol_export_cursor", "Last row id acknowledged by the target", ["stream"], registry=REGISTRY)
target_up = Gauge("patrol_export_target_up", "1 when the last write request succeeded", registry=REGISTRY)
write_seconds = Histogram(
    "patrol_export_write_seconds", "Time of one successful write request", registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
