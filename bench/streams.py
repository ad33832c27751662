"""Idle agent streams: how many a collector holds, what it costs in memory, and that it gives it back.

A real collector process (SQLite) on loopback; this process opens ``--streams`` agent streams, each on
its own connection like real agents, sends ``Hello`` on each and then stays silent for ``--hold``
seconds before closing them all. Printed: how each stream ended (gRPC status on the client side),
the collector's RSS before, at its peak and after the streams closed, and what the collector logged
about ended streams.

    .venv/bin/python bench/streams.py [--streams 3000] [--hold 20] [--series 0]

With ``--series N`` every stream first sends one batch of N new series (a cardinality flood).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.localrun import ManagedProcess, api_healthy, free_port, wait_until
from tests.integration.idle_agents import active_streams, idle_agent


def start_collector(workdir: Path, max_series_per_host: int) -> tuple[ManagedProcess, int, str]:
    grpc_port, api_port = free_port(), free_port()
    cfg = {"data_dir": "data", "listen": f"127.0.0.1:{grpc_port}", "insecure": True,
           "api": {"listen": f"127.0.0.1:{api_port}"}, "customers": [{"id": "acme", "name": "ACME"}],
           "max_series_per_host": max_series_per_host, "limits": {"max_message_bytes": "64MiB"}}
    (workdir / "collector.yaml").write_text(yaml.safe_dump(cfg))
    proc = ManagedProcess("collector.main", workdir / "collector.yaml", workdir / "collector.log", workdir)
    proc.start()
    api = f"http://127.0.0.1:{api_port}"
    wait_until(lambda: api_healthy(api, proc), 120, "the collector API")
    return proc, grpc_port, api


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def rss(self) -> int:
        return int(self.proc.memory_info().rss)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, self.rss())


async def run(port: int, api: str, streams: int, hold: float, series: int) -> collections.Counter[str]:
    release = asyncio.Event()
    tasks = []
    for i in range(streams):
        tasks.append(asyncio.create_task(idle_agent(port, i, release, series)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline and not all(t.done() for t in tasks):
        await asyncio.sleep(1)
    print(f"streams open at the collector: {active_streams(api)} of {streams}")
    release.set()
    return collections.Counter(await asyncio.gather(*tasks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=3000)
    ap.add_argument("--hold", type=float, default=20.0, help="seconds the streams stay idle after Hello")
    ap.add_argument("--series", type=int, default=0, help="new series each stream sends first")
    ap.add_argument("--max-series-per-host", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=1, help="open and close the streams this many times")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="patrol-bench-streams-") as tmp:
        workdir = Path(tmp)
        proc, port, api = start_collector(workdir, args.max_series_per_host)
        assert proc.proc is not None
        sampler = RssSampler(proc.proc.pid)
        time.sleep(2)
        before = sampler.rss()
        sampler.start()
        outcomes: collections.Counter[str] = collections.Counter()
        try:
            for r in range(args.rounds):
                outcomes += asyncio.run(run(port, api, args.streams, args.hold, args.series))
                wait_until(lambda: active_streams(api) == 0, 60, "every stream to close")
                time.sleep(5)
                after = sampler.rss()
                print(f"round {r + 1}: collector_rss_mib peak so far={sampler.peak / 2**20:.0f} "
                      f"after closing={after / 2**20:.0f}")
        finally:
            sampler.stop.set()
            proc.stop()
        log = (workdir / "collector.log").read_text(errors="replace")
    mib = 2**20
    print(f"streams={args.streams} rounds={args.rounds} hold_s={args.hold:g} series_per_stream={args.series}")
    for outcome, n in outcomes.most_common():
        print(f"  ended {outcome}: {n}")
    print(f"collector_rss_mib before={before / mib:.0f} peak={sampler.peak / mib:.0f} after={after / mib:.0f}")
    ended = collections.Counter(line.split("event=")[1].split()[0] for line in log.splitlines()
                                if "event=" in line)
    print(f"collector log: {dict(ended)}; tracebacks: {log.count('Traceback')}")


if __name__ == "__main__":
    main()
