"""The feature registry: every feature of the collector declared in one place, read by the core.

A feature package has a ``feature`` module holding ``FEATURE = Feature(...)``: its configuration
section, its tables, its service factory, its HTTP router, its CLI commands and its periodic jobs.
The collector's core (app start and stop, API mounting, configuration validation, the CLI, schema
creation and migrations, the job scheduler) iterates :func:`features` and never names a feature.

The parts are ``"module:attribute"`` references, resolved when used. That keeps a declaration
cheap to import (the CLI reads the registry without loading the services) and keeps the core free
of import edges into the features, so the import graph has no cycles (``tests/contracts``).

The registry is one explicit tuple rather than a scan of the packages because the order is
meaningful: services start in this order and stop in reverse (the PKI before anything that
authenticates, the ticket service before the passes that feed it), and a reviewer sees the order
in one place. A test checks that every package with a ``feature`` module is listed.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Modules defining ``FEATURE``, in service start order.
FEATURE_MODULES: tuple[str, ...] = (
    "collector.cluster.feature",
    "collector.pki.feature",
    "collector.quarantine.feature",
    "collector.inspection.feature",
    "collector.tickets.feature",
    "collector.findings.feature",
    "collector.predictions.feature",
    "collector.export.feature",
    "collector.ssh.feature",
    "collector.diagnostics.feature",
    "collector.reporting.feature",
    "collector.console.feature",
    "collector.scheduler.feature",
)


@dataclass(frozen=True)
class ConfigSection:
    """A top-level key of ``collector.yaml`` validated by the feature's own pydantic model."""

    key: str
    model: str  # "module:Model"


@dataclass(frozen=True)
class Feature:
    name: str
    sections: Sequence[ConfigSection] = ()
    tables: Sequence[str] = ()  # modules defining tables on collector.store.schema.metadata
    service: str | None = None  # "module:factory", factory(app) -> Service | None (None: not configured)
    jobs: str | None = None  # "module:function", function(service) -> list[JobSpec]
    # Ids of those jobs whose schedule ``jobs.<id>`` in collector.yaml may set, known without starting
    # the service, so ``check-config`` can name a misspelt one (a test keeps them in step with the jobs).
    job_ids: Sequence[str] = ()
    router: str | None = None  # "module:attribute" holding a FastAPI APIRouter
    cli: str | None = None  # "module:register", register(typer_app, client_factory)


def resolve(ref: str) -> Any:
    """The object a ``"module:attribute"`` reference names."""
    return pkgutil.resolve_name(ref)


@functools.cache
def features() -> tuple[Feature, ...]:
    """Every registered feature, in start order."""
    found: list[Feature] = []
    for name in FEATURE_MODULES:
        feature = getattr(importlib.import_module(name), "FEATURE", None)
        if not isinstance(feature, Feature):
            raise TypeError(f"{name} must define FEATURE = Feature(...)")
        found.append(feature)
    names = [f.name for f in found]
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be unique, got {names}")
    return tuple(found)


def config_sections() -> dict[str, str]:
    """Section key -> model reference, for every feature section."""
    out: dict[str, str] = {}
    for feature in features():
        for section in feature.sections:
            if section.key in out:
                raise ValueError(f"configuration section {section.key!r} is declared twice")
            out[section.key] = section.model
    return out


def table_modules() -> list[str]:
    return [module for feature in features() for module in feature.tables]
