"""The job scheduler's own parts: the ``jobs:`` section, the run history, ``/api/v1/jobs``, ``patrol jobs``."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="jobs",
    sections=(ConfigSection("jobs", "collector.scheduler.config:JobsConfig"),),
    tables=("collector.scheduler.tables",),
    router="collector.scheduler.api:router",
    cli="collector.cli.jobs:register",
)
