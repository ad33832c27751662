"""Validating agent.yaml in a short-lived child process, so the agent never loads pydantic or PyYAML.

The agent runs for months on customers' machines and its memory is part of what it costs them.
Importing pydantic and building the configuration schema with it costs about 20 MB that the
agent would carry for its whole life for a few milliseconds of use at start-up. So the agent
runs ``python -m agent.configcheck agent.yaml``, which validates the file (and the rule packs it
names) and writes the validated configuration, pickled, to its stdout; the agent unpickles the
frozen dataclasses of :mod:`agent.config`, which need neither library.

Exit status of the child: 0 and the pickle on stdout; 2 and the operator's message (file, field,
problem) on stderr for an invalid configuration; anything else is a crash of the checker itself.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agent.configfile import ConfigError

if TYPE_CHECKING:
    from agent.config import AgentConfig

INVALID = 2
TIMEOUT_S = 120.0
# The directory the running `agent` package was imported from: the child must check with this code.
_CODE_ROOT = Path(__file__).resolve().parents[1]


def check_in_child(path: Path | str, *, timeout: float = TIMEOUT_S) -> AgentConfig:
    """agent.yaml at ``path`` validated by a child interpreter; raises :class:`ConfigError` as the check does."""
    from agent.config import AgentConfig

    if not sys.executable:
        raise ConfigError("cannot check the configuration: the Python interpreter's path is unknown "
                          "(sys.executable is empty)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_CODE_ROOT), env.get("PYTHONPATH", "")) if p)
    # -P: not the working directory first on the path, where an unrelated `agent` could shadow ours.
    command = [sys.executable, "-P", "-m", "agent.configcheck", str(path)]
    try:
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"checking configuration file {path} took longer than {timeout:g} s; "
                          "is the file on a hung network mount?") from None
    except OSError as e:
        raise ConfigError(f"cannot start {sys.executable} to check configuration file {path}: {e}") from None
    errors = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode == INVALID:
        raise ConfigError(errors)
    if done.returncode != 0:
        tail = "\n".join(errors.splitlines()[-10:])
        raise ConfigError(f"checking configuration file {path} failed (the checker exited with status "
                          f"{done.returncode}):\n{tail}")
    try:
        cfg = pickle.loads(done.stdout)
    except Exception as e:  # anything written to stdout besides the pickle, e.g. by a sitecustomize
        raise ConfigError(f"checking configuration file {path} gave an unreadable answer ({e!r}); "
                          f"run '{sys.executable} -m agent.configcheck {path}' to see it") from None
    if not isinstance(cfg, AgentConfig):
        raise ConfigError(f"checking configuration file {path} returned a {type(cfg).__name__}, "
                          "not the configuration")
    return cfg


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m agent.configcheck AGENT_YAML  (writes the validated configuration, pickled, "
              "to stdout; used by the agent itself)", file=sys.stderr)
        return 1
    from agent.config import load_agent_config_in_process

    try:
        cfg = load_agent_config_in_process(argv[0])
    except ConfigError as e:
        print(e, file=sys.stderr)
        return INVALID
    sys.stdout.buffer.write(pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
