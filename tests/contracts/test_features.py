"""The feature registry: every declaration is listed, and every part it names is what it claims."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer
from fastapi import APIRouter
from pydantic import BaseModel

from collector.features import FEATURE_MODULES, Feature, config_sections, features, resolve
from collector.store.schema import metadata

COLLECTOR = Path(__file__).resolve().parents[2] / "collector"


def test_every_feature_module_is_registered() -> None:
    on_disk = {"collector." + ".".join(p.relative_to(COLLECTOR).with_suffix("").parts)
               for p in [*COLLECTOR.glob("*/feature.py"), *COLLECTOR.glob("*_feature.py")]}
    assert on_disk == set(FEATURE_MODULES)


def test_every_reference_resolves_to_the_right_kind() -> None:
    for feature in features():
        assert isinstance(feature, Feature)
        for section in feature.sections:
            assert issubclass(resolve(section.model), BaseModel), section
        if feature.router is not None:
            assert isinstance(resolve(feature.router), APIRouter), feature.router
        for ref in (feature.service, feature.jobs, feature.cli):
            if ref is not None:
                assert callable(resolve(ref)), ref
        if feature.cli is not None:
            assert list(inspect.signature(resolve(feature.cli)).parameters) == ["app", "client_factory"]


def test_sections_and_tables_come_from_the_declarations() -> None:
    import collector.store.all_tables  # noqa: F401

    assert {"inspections", "tickets", "notifications", "ssh", "export", "reports", "diagnostics", "jobs"} <= \
        set(config_sections())
    assert {"job_runs", "tickets", "inspection_runs", "collectors", "export_cursors", "quarantine"} <= \
        set(metadata.tables)


def test_the_cli_has_every_features_commands() -> None:
    from collector.cli import app

    names = {c.name for c in typer.main.get_command(app).commands.values()}  # type: ignore[attr-defined]
    assert {"jobs", "cluster", "events", "tickets", "quarantine"} <= names
