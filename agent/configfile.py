"""Loading YAML configuration files into validated models with errors that name file and field.

Shared by the agent and the collector: a bad config names the file, the field and what is wrong,
and the process exits non-zero before doing anything.

PyYAML and pydantic are imported inside the functions that need them, never at import time: the
long-running agent imports this module (for :class:`ConfigError` and the parsers) but validates its
configuration in a short-lived child process, so neither library ever occupies its memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError
    from pydantic_core import ErrorDetails

M = TypeVar("M")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024, "m": 1000**2, "mb": 1000**2,
               "mib": 1024**2, "mi": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
               "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4}
# Dataclass schemas report a stray or missing key in their own words; say it as models do.
_DATACLASS_MESSAGES = {"unexpected_keyword_argument": "Extra inputs are not permitted",
                       "missing_argument": "Field required"}
_UNKNOWN_FIELD = {"extra_forbidden", "unexpected_keyword_argument"}


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid. The message is meant for the operator."""


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"7d"``; raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m, 7d, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"expected a duration such as 30s, 5m, 2h, 7d, got {value!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2) or "s"]


def parse_size(value: Any) -> int:
    """Bytes from ``1048576``, ``"256MiB"``, ``"1GB"``; raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 256MiB, got {value!r}")
    if isinstance(value, int | float):
        return int(value)
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"expected a size such as 4096, 64KiB, 256MiB, 1GiB, got {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()])


def error_message(error: ErrorDetails) -> str:
    """pydantic's message for one error, worded the same for models and dataclasses."""
    return _DATACLASS_MESSAGES.get(error["type"], error["msg"])


def format_validation_error(path: Path | str, err: ValidationError) -> str:
    lines = [f"invalid configuration in {path}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = error_message(e)
        if e["type"] in _UNKNOWN_FIELD:
            msg = "unknown field (check the spelling; see the example config)"
        lines.append(f"  field {loc}: {msg}")
    return "\n".join(lines)


def read_mapping(path: Path | str) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path`` (``{}`` when empty); :class:`ConfigError` naming
    what is wrong. This imports PyYAML."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {p} does not exist") from None
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {p}: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"configuration file {p} is not valid YAML{where}: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration file {p} must contain a mapping at the top level, got {type(raw).__name__}")
    return raw


# Building a schema is the expensive part of validating: once per model and process.
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(model: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def validate(model: type[M], data: Any, *, context: dict[str, Any] | None = None) -> M:
    """``data`` validated as ``model`` (a pydantic model or a dataclass); raises pydantic's ValidationError."""
    from pydantic import BaseModel

    if issubclass(model, BaseModel):
        return model.model_validate(data, context=context)  # type: ignore[return-value]
    return _adapter(model).validate_python(data, context=context)  # type: ignore[no-any-return]


def load_model(path: Path | str, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Read ``path`` as YAML and validate it as ``model``; raise :class:`ConfigError` naming what is wrong."""
    from pydantic import ValidationError

    p = Path(path)
    raw = read_mapping(p)
    if overrides:
        raw.update(overrides)
    try:
        return validate(model, raw, context={"config_dir": p.resolve().parent})
    except ValidationError as e:
        raise ConfigError(format_validation_error(p, e)) from None
