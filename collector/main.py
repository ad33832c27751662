"""``patrol-collector``: run the collector."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from agent.configfile import ConfigError
from collector.config import CollectorConfig, load_collector_config
from collector.store.engine import StoreError

log = logging.getLogger("patrol.collector")


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")


async def serve(cfg: CollectorConfig) -> None:
    from collector.app import CollectorApp

    app = CollectorApp(cfg)
    try:
        await app.start()
    except BaseException:
        await app.stop()  # what did start (store, ingest, services) stops cleanly before the exit
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("event=started collector_id=%s grpc=%s api=%s store=%s", app.collector_id, cfg.listen,
             cfg.api.listen, cfg.store_url().split("://")[0])
    await stop.wait()
    log.info("event=stopping")
    await app.stop()
    log.info("event=stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="patrol-collector", description="Run the Patrol collector.")
    parser.add_argument("--config", "-c", type=Path, required=True, help="collector.yaml")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "check-config", "pki", "migrate"])
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="for pki: init|show ... (pki --help); for migrate: [--revision REV] [--sql]")
    args = parser.parse_args(argv)
    if args.args and args.command not in ("pki", "migrate"):
        parser.error(f"unexpected arguments after {args.command}: {' '.join(args.args)}")
    try:
        cfg = load_collector_config(args.config)
    except ConfigError as e:
        print(f"patrol-collector: {e}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        from collector.core_jobs import schedulable_job_ids

        problem = cfg.section("jobs").unknown_job(schedulable_job_ids())
        if problem is not None:
            print(f"patrol-collector: {args.config}: {problem}", file=sys.stderr)
            return 2
        print(f"{args.config}: ok")
        return 0
    if args.command == "pki":
        from collector.pki.bootstrap import main as pki_main

        return pki_main(cfg, args.args)
    setup_logging(cfg.log_level)
    if args.command == "migrate":
        from collector.store.migrate import main as migrate_main

        return migrate_main(cfg.store_url(), args.args)
    try:
        asyncio.run(serve(cfg))
    except ConfigError as e:
        print(f"patrol-collector: {e}", file=sys.stderr)
        return 2
    except (StoreError, OSError) as e:
        print(f"patrol-collector: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
