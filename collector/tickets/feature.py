"""Tickets with SLA clocks, and the notifications they send."""

from collector.features import ConfigSection, Feature

FEATURE = Feature(
    name="tickets",
    sections=(ConfigSection("tickets", "collector.tickets.config:TicketsConfig"),
              ConfigSection("notifications", "collector.notify.config:NotificationsConfig")),
    tables=("collector.tickets.tables", "collector.notify.tables"),
    service="collector.tickets.runner:create_service",
    jobs="collector.tickets.runner:jobs",
    job_ids=("tickets-sla",),
    router="collector.tickets.api:router",
    cli="collector.cli.tickets:register",
)
