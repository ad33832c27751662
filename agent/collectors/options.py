"""Validators for collector options given in the agent's config.

Each collector declares its options as a mapping ``option name -> validator``; a validator takes
the raw config value and returns the value passed to the constructor, or raises ``ValueError``
saying what was expected. Keeping the declaration as data lets ``build_collectors`` reject unknown
options and bad values before any collector runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

OptionValidator = Callable[[object], object]
OptionSpec = Mapping[str, OptionValidator]


def positive_int(value: object) -> int:
    # bool is an int subclass; `limit: true` in YAML is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number >= 1, got {value!r}")
    return value


def string_list(value: object) -> tuple[str, ...]:
    # A bare string would otherwise be iterated character by character.
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of strings, got {value!r}")
    items = tuple(value)
    bad = [item for item in items if not isinstance(item, str) or not item]
    if bad:
        raise ValueError(f"expected a list of non-empty strings, got {bad!r} in {value!r}")
    return items
