"""CLI command groups: the core's (events) and those the features declare (``register(app, client_factory)``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from collector.features import features, resolve


def register_all(app: typer.Typer, client_factory: Callable[[], Any]) -> None:
    from collector.cli import events

    events.register(app, client_factory)
    for feature in features():
        if feature.cli is not None:
            resolve(feature.cli)(app, client_factory)
