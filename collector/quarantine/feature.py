"""Batches the store refused for good, held for inspection and replay."""

from collector.features import Feature

FEATURE = Feature(
    name="quarantine",
    service="collector.quarantine.service:quarantine_service",
    router="collector.quarantine.api:router",
    cli="collector.cli.quarantine:register",
)
