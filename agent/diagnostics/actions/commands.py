"""``command``: an operator-defined command from ``diagnostics.commands``, chosen by ``name``.

The argv is the one written in agent.yaml. The server can only fill declared placeholders
(``{host}`` inside an argv element), each value checked against its pattern or choices; a
substitution stays inside its argv element, and no shell ever sees the result. A command that
exits non-zero ends with status ``error`` and its output kept.
"""

from __future__ import annotations

from collections.abc import Iterator

from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.config import PLACEHOLDER, DiagnosticsConfig, OperatorCommand
from agent.diagnostics.context import ActionContext, ActionError, Denied


def build_argv(name: str, command: OperatorCommand, args: dict[str, str]) -> list[str]:
    """The command's argv with placeholders filled from ``args``; :class:`Denied` on any bad value."""
    unknown = sorted(set(args) - set(command.args))
    if unknown:
        accepted = ", ".join(command.args) or "none"
        raise Denied(f"command {name} does not take argument(s) {', '.join(unknown)} (accepted: {accepted})")
    values: dict[str, str] = {}
    for key, rule in command.args.items():
        value = args.get(key, rule.default)
        if value is None:
            raise Denied(f"command {name} needs {key}=…")
        problem = rule.problem(value)
        if problem is not None:
            raise Denied(f"command {name}: {key}={value!r} is not allowed; expected {problem}")
        values[key] = value
    return [PLACEHOLDER.sub(lambda m: values[m.group(1)], part) for part in command.argv]


def prepare(params: Params, cfg: DiagnosticsConfig) -> Prepared:
    name = params.args.get("name")
    declared = ", ".join(sorted(cfg.commands)) or "none"
    if not name:
        raise Denied(f"command needs name=… (commands declared on this host: {declared})")
    command = cfg.commands.get(name)
    if command is None:
        raise Denied(f"no command {name!r} is declared on this host (declared: {declared}); the customer declares "
                     "commands under diagnostics.commands in agent.yaml")
    argv = build_argv(name, command, {k: v for k, v in params.args.items() if k != "name"})

    def run(ctx: ActionContext) -> Iterator[bytes]:
        rc: list[int] = []
        yield from ctx.stream(argv, result=rc)
        if rc and rc[0] != 0:
            raise ActionError(f"command {name} exited with status {rc[0]}")

    return Prepared(run, timeout=command.timeout, max_output=command.max_output)


COMMAND = ActionSpec("command", "an operator-defined command declared in the agent's config",
                     {"name": "a command declared under diagnostics.commands",
                      "<placeholder>": "values for the command's declared placeholders"}, prepare,
                     open_args=True)
