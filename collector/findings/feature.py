"""Findings after an inspection: on-the-spot maintenance records (系统维护记录表) and the maintenance
memo (系统维护备忘录); the hand-off of findings to tickets is called by the inspection feature."""

from collector.features import Feature

FEATURE = Feature(
    name="findings",
    tables=("collector.findings.tables",),
    router="collector.findings.api:router",
    cli="collector.findings.cli:register",
)
