"""Remote diagnostics: signed requests to agents (and SSH hosts), audited."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="diagnostics",
    sections=(ConfigSection("diagnostics", "collector.diagnostics.config:DiagnosticsSettings"),),
    tables=("collector.diagnostics.tables",),
    service="collector.diagnostics.service:diagnostics_service",
    router="collector.diagnostics.api:router",
    cli="collector.cli.diag:register",
)
