"""The collector's CA: enrollment, certificates, revocation."""

from collector.features import Feature

FEATURE = Feature(
    name="pki",
    tables=("collector.pki.tables",),
    service="collector.pki.service:pki_service",
    router="collector.pki.api:router",
    cli="collector.cli.pki:register",
)
