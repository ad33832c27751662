"""CLI command groups contributed by features: each module has ``register(app, client_factory)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def register_all(app: typer.Typer, client_factory: Callable[[], Any]) -> None:
    from collector.cli import cluster, diag, events, inspections, pki, quarantine, reports, tickets

    for module in (events, inspections, tickets, diag, pki, reports, cluster, quarantine):
        module.register(app, client_factory)
