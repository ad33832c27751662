"""Inspections: profiles run on cron schedules per customer, and on demand."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="inspections",
    sections=(ConfigSection("inspections", "collector.inspection.config:InspectionsConfig"),),
    tables=("collector.inspection.tables",),
    service="collector.inspection.service:create_service",
    jobs="collector.inspection.service:jobs",
    job_ids=("inspections-catch-up",),
    router="collector.inspection.api:router",
    cli="collector.cli.inspections:register",
)
