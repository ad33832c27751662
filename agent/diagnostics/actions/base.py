"""The shape of a diagnostic action and the checking of its arguments.

An action is declared, not wired: an :class:`ActionSpec` names it, documents its arguments and has a
``prepare`` function that validates the request's arguments against the local config and returns
what to run. ``prepare`` raises :class:`Denied` before anything has run; the run is a generator of
output bytes (see :mod:`agent.diagnostics.context`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext, Denied

Run = Callable[[ActionContext], Iterator[bytes]]
_UINT = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class Prepared:
    run: Run
    timeout: float | None = None  # the action's own ceiling, below the config's
    max_output: int | None = None


@dataclass(frozen=True)
class ActionSpec:
    name: str
    summary: str
    args: dict[str, str]  # argument name -> what it takes
    prepare: Callable[[Params, DiagnosticsConfig], Prepared]
    open_args: bool = False  # the arguments are checked by ``prepare`` itself (operator commands)


class Params:
    """The request's arguments for one action: names it does not take are refused, each getter validates."""

    def __init__(self, action: str, args: Mapping[str, str], accepted: Mapping[str, str],
                 open_args: bool = False) -> None:
        self.action = action
        self.args = dict(args)
        self.accepted = accepted
        unknown = sorted(set(self.args) - set(accepted))
        if unknown and not open_args:
            names = ", ".join(accepted) or "none"
            raise Denied(f"{action} does not take argument(s) {', '.join(unknown)} (accepted: {names})")

    def text(self, name: str, default: str | None = None, *, max_len: int = 256) -> str | None:
        value = self.args.get(name, default)
        if value is not None and (len(value) > max_len or "\x00" in value):
            raise Denied(f"argument {name} is longer than {max_len} characters or contains NUL")
        return value

    def required(self, name: str, hint: str, *, max_len: int = 256) -> str:
        value = self.text(name, max_len=max_len)
        if not value:
            raise Denied(f"{self.action} needs {name}=… ({hint})")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.args.get(name)
        if raw is None:
            return default
        if not _UINT.match(raw):
            raise Denied(f"argument {name}={raw!r} must be a whole number from {low} to {high}")
        value = int(raw)
        if not low <= value <= high:
            raise Denied(f"argument {name}={value} is out of range: use {low}..{high}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.args.get(name, default)
        if value not in choices:
            raise Denied(f"argument {name}={value!r} must be one of {', '.join(choices)}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.args.get(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise Denied(f"argument {name}={raw!r} must be true or false")
