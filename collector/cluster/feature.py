"""The collector group: membership table, ``/api/v1/cluster`` and ``patrol cluster``."""

from collector.features import Feature

FEATURE = Feature(
    name="cluster",
    tables=("collector.cluster.tables",),
    router="collector.cluster.api:router",
    cli="collector.cli.cluster:register",
)
