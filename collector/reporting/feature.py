"""Customer reports: generated on schedule, archived, mailed."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="reports",
    sections=(ConfigSection("reports", "collector.reporting.config:ReportsConfig"),),
    tables=("collector.reporting.tables",),
    service="collector.reporting.service:create_service",
    jobs="collector.reporting.service:jobs",
    job_ids=("reports",),
    router="collector.reporting.api:router",
    cli="collector.cli.reports:register",
)
