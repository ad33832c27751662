"""``patrol-agent``: run the agent."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from agent.config import load_agent_config
from agent.configfile import ConfigError


def parse_arguments(argv: list[str]) -> tuple[Path, str]:
    """The config file and the command (``run`` or ``check-config``) of the command line."""
    import argparse

    parser = argparse.ArgumentParser(prog="patrol-agent", description="Run the Patrol agent "
                                     "('patrol-agent enroll --help' to get its certificate).")
    parser.add_argument("--config", "-c", type=Path, required=True, help="agent.yaml")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "check-config"])
    args = parser.parse_args(argv)
    return args.config, args.command


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["enroll"]:
        from agent.enroll import main as enroll_main

        return enroll_main(argv[1:])
    config, command = parse_arguments(argv)
    try:
        cfg = load_agent_config(config)
    except ConfigError as e:
        print(f"patrol-agent: {e}", file=sys.stderr)
        return 2
    if command == "check-config":
        print(f"{config}: ok")
        return 0
    logging.basicConfig(level=cfg.log_level, stream=sys.stderr,
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    from agent.lean import STARTUP_ONLY, forget, import_event_loop

    forget(*STARTUP_ONLY)
    import_event_loop()
    from agent.runner import Agent
    from agent.spool import SpoolError

    try:
        agent = Agent(cfg)
    except (SpoolError, ValueError) as e:
        print(f"patrol-agent: {e}", file=sys.stderr)
        return 1
    from agent.heap import release_free_memory

    release_free_memory()
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
