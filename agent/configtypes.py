"""Building blocks of the agent's configuration schema, without pydantic.

The schema is plain frozen dataclasses: the long-running agent only ever holds validated values
and never imports pydantic (its import and the schemas it builds cost more memory than the rest of
the agent). pydantic validates those dataclasses elsewhere — in the short-lived config-check
process (:mod:`agent.configcheck`), in tools and in tests — following the hints given here:

- ``__pydantic_config__`` on :class:`Section` forbids unknown keys;
- constraints are :mod:`annotated_types` markers (``Annotated[int, Ge(1)]``), which pydantic applies;
- :class:`Before`, :class:`After`, :class:`AfterWithContext` and :class:`Pattern` are annotation
  markers whose ``__get_pydantic_core_schema__`` imports pydantic_core only when a schema is built;
- checks across fields go in ``__post_init__`` and raise ValueError, reported at the section.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from annotated_types import Gt

from agent.configfile import parse_duration, parse_size

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema


class Before:
    """Annotation marker: ``func(value)`` runs on the raw input, before the type's own validation."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.func, handler(source))


class After:
    """Annotation marker: ``func(value)`` checks (and may normalise) the value once it has its type."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.func, handler(source))


class AfterWithContext:
    """Like :class:`After`, with the validation context: ``func(value, context)`` (``{}`` when none).

    The loaders pass ``{"config_dir": <directory of agent.yaml>}`` to resolve relative paths.
    """

    def __init__(self, func: Callable[[Any, Mapping[str, Any]], Any]) -> None:
        self.func = func

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        func = self.func
        return core_schema.with_info_after_validator_function(
            lambda value, info: func(value, info.context or {}), handler(source))


class Pattern:
    """Annotation marker for ``str``: the value must match ``pattern`` (``re.search``, as pydantic's own)."""

    def __init__(self, pattern: str) -> None:
        re.compile(pattern)
        self.pattern = pattern

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema["type"] != "str":
            raise TypeError(f"Pattern applies to str fields, not {source!r}")
        return {**schema, "pattern": self.pattern}  # type: ignore[typeddict-item]


class Section:
    """Base of every configuration section (each a ``@dataclass(frozen=True, kw_only=True)``): rejects unknown keys.

    A section that accepts a scalar in place of its mapping (``processes: [nginx]``) overrides
    :meth:`from_shorthand`.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    @classmethod
    def from_shorthand(cls, value: Any) -> Any:
        """The mapping a shorthand value stands for; anything else unchanged."""
        return value

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if cls.from_shorthand.__func__ is Section.from_shorthand.__func__:  # type: ignore[attr-defined]
            return schema
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(cls.from_shorthand, schema)

    @classmethod
    def model_validate(cls, data: Any, *, context: dict[str, Any] | None = None) -> Self:
        """``data`` validated as this section, in this process (this imports pydantic).

        Raises pydantic's ValidationError. The agent itself loads its configuration with
        :func:`agent.config.load_agent_config`, which validates in a child process.
        """
        from agent.configfile import validate

        return validate(cls, data, context=context)


def not_bool(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise pass as the number 1.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


def relative_to_config(path: Path, context: Mapping[str, Any]) -> Path:
    """``path`` normalised; relative paths are taken from the directory of agent.yaml."""
    if path.is_absolute():
        return Path(os.path.normpath(path))
    base = context.get("config_dir")
    if base is None:
        raise ValueError(f"expected an absolute path, got {str(path)!r}")
    # normpath, not resolve(): the path stays as the operator wrote it, symlinks included.
    return Path(os.path.normpath(Path(base) / path))


def plain(value: Any) -> Any:
    """A configuration value as plain data (dicts, lists, str, numbers, bool, None), e.g. to show it.

    Only the fields a config file can set are included.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


Seconds = Annotated[float, Before(parse_duration), Gt(0)]
"""A duration in seconds, written ``30``, ``30s``, ``5m``, ``2h`` or ``7d``."""
Bytes = Annotated[int, Before(parse_size), Gt(0)]
"""A size in bytes, written ``4096``, ``64KiB``, ``256MiB`` or ``1GB``."""
