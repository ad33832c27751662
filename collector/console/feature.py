"""The web console for engineers (``/console``) and the portal for customers (``/portal``)."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="console",
    sections=(ConfigSection("console", "collector.console.config:ConsoleSettings"),),
    tables=("collector.console.tables",),
    service="collector.console.service:create_service",
    jobs="collector.console.service:jobs",
    job_ids=("console-sessions",),
    router="collector.console.router:router",
    cli="collector.console.cli:register",
)
