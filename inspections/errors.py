"""Errors raised while loading check definitions, profiles and overrides.

Each message names the file, the item (check id, rule index) and the field, and says what is wrong,
so an engineer can fix a YAML file from the message alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class InspectionConfigError(ValueError):
    """A check definition, profile or overrides file is invalid."""


class CheckDefinitionError(InspectionConfigError):
    """A check definition (YAML or Python registration) is invalid."""


class ProfileError(InspectionConfigError):
    """A profile names checks that do not exist or is malformed."""


class OverrideError(InspectionConfigError):
    """A customer's overrides file is invalid."""


def read_yaml(path: Path, error: type[InspectionConfigError]) -> Any:
    """Parse a YAML file, turning I/O and syntax errors into ``error`` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    return parse_yaml(text, str(path), error)


def parse_yaml(text: str, source: str, error: type[InspectionConfigError]) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{source}: invalid YAML{where}: {problem}") from exc


def format_location(loc: tuple[int | str, ...], describe: Callable[[tuple[int | str, ...]], str]) -> str:
    """``checks[3].warn`` style path; ``describe`` may add an item's id for list positions."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    extra = describe(loc)
    return f"{out} ({extra})" if extra else out


def validation_message(
    exc: ValidationError,
    source: str,
    describe: Callable[[tuple[int | str, ...]], str] = lambda loc: "",
    prefix: tuple[int | str, ...] = (),
) -> str:
    """One line per problem: ``file: location: message``; ``prefix`` is prepended to locations."""
    lines = []
    for err in exc.errors(include_url=False):
        # Tagged unions add the tag as a location part; it repeats what the item already says.
        loc = prefix + tuple(p for p in err["loc"] if p not in ("metric", "events", "python"))
        where = format_location(loc, describe) if loc else "top level"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see docs/inspections.md for the fields)"
        elif err["type"] == "missing":
            message = "required field is missing"
        lines.append(f"{source}: {where}: {message}")
    return "\n".join(lines)
