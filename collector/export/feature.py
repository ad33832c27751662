"""Export of raw samples and events to InfluxDB (or anything speaking its v2 write API)."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="export",
    sections=(ConfigSection("export", "collector.export.config:ExportConfig"),),
    service="collector.export.service:export_service",
    jobs="collector.export.service:jobs",
    job_ids=("export-adopt",),
)
