"""Prometheus metrics about the collector itself, served on ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

streams_active = Gauge("patrol_streams_active", "Agent streams currently open", registry=REGISTRY)
streams_rejected = Counter(
    "patrol_streams_rejected_total", "Agent streams refused or aborted, by reason", ["reason"], registry=REGISTRY
)
batches_received = Counter(
    "patrol_batches_received_total", "Upstream batches received, by kind", ["kind"], registry=REGISTRY
)
batches_duplicate = Counter(
    "patrol_batches_duplicate_total", "Batches dropped as duplicates of durable ones", registry=REGISTRY
)
samples_accepted = Counter(
    "patrol_samples_accepted_total", "Sample points made durable in the store", registry=REGISTRY
)
events_accepted = Counter("patrol_events_accepted_total", "Log events made durable", registry=REGISTRY)
ingest_queue_depth = Gauge("patrol_ingest_queue_depth", "Batches waiting for the store", registry=REGISTRY)
ingest_queue_waits = Counter("patrol_ingest_queue_waits_total",
                             "Times a stream found the ingest queue full and waited for the writer", registry=REGISTRY)
commit_seconds = Histogram(
    "patrol_ingest_commit_seconds", "Time to make one group of batches durable", registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
flush_seconds = Histogram(
    "patrol_rollup_flush_seconds", "Time to merge accumulated rollups into the store", registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
rollup_rows_written = Counter(
    "patrol_rollup_rows_written_total", "Rollup and latest-value rows merged", registry=REGISTRY
)
agent_spool_dropped = Gauge(
    "patrol_agent_spool_dropped_batches", "Batches an agent dropped from its spool (as it reported)",
    ["host"], registry=REGISTRY,
)
store_errors = Counter("patrol_store_errors_total", "Failed store transactions", ["op"], registry=REGISTRY)
rejected_samples = Counter(
    "patrol_ingest_rejected_samples_total", "Sample points dropped at the door for breaking a bound, by reason",
    ["reason"], registry=REGISTRY,
)
rejected_events = Counter(
    "patrol_ingest_rejected_events_total", "Log events dropped at the door for breaking a bound, by reason",
    ["reason"], registry=REGISTRY,
)
quarantined_batches = Counter(
    "patrol_ingest_quarantined_batches_total", "Batches the store refused for good, kept in the quarantine",
    registry=REGISTRY,
)
streams_ended = Counter(
    "patrol_streams_ended_total", "Agent streams that ended, by how", ["how"], registry=REGISTRY
)
quarantine_held = Gauge(
    "patrol_quarantine_held_batches", "Batches held in the quarantine of the store", registry=REGISTRY
)
job_runs = Counter(
    "patrol_job_runs_total", "Runs of periodic jobs, by job and outcome (ok, failed, skipped)", ["job", "outcome"],
    registry=REGISTRY,
)
job_failures = Counter("patrol_job_failures_total", "Runs of periodic jobs that raised", ["job"], registry=REGISTRY)
job_duration_seconds = Histogram(
    "patrol_job_duration_seconds", "Time one run of a periodic job took", ["job"], registry=REGISTRY,
    buckets=(0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900),
)
