"""The agent's footprint: share of one core and peak RSS with all default collectors at 10 s.

A real agent process streams to a real collector on loopback for the whole run. CPU is the agent's
user+system time over the measured span (after a warm-up) divided by wall time; memory is the peak
resident set (VmHWM) over the whole run.

    .venv/bin/python bench/agent_overhead.py [--quick] [--seconds 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.harness import AgentProcess, CollectorProcess


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return psutil.Process(pid).memory_info().rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50 s instead of 5 minutes")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--warmup", type=float, default=12.0, help="seconds before measuring (imports, first round)")
    args = ap.parse_args()
    seconds = args.seconds or (50.0 if args.quick else 300.0)
    with tempfile.TemporaryDirectory() as tmp:
        collector = CollectorProcess(Path(tmp) / "collector", log_level="WARNING").start()
        # Defaults throughout: every collector at its default interval, batches every 10 s.
        agent = AgentProcess(Path(tmp) / "agent", f"127.0.0.1:{collector.grpc_port}", agent_id="bench-agent",
                             batch_interval=10, collectors={}, trace_file=None, log_level="WARNING",
                             transport={}).start()
        assert agent._process.proc is not None
        proc = psutil.Process(agent._process.proc.pid)
        time.sleep(args.warmup)
        t0 = time.monotonic()
        c0 = sum(proc.cpu_times()[:2])
        print(f"measuring the agent (pid {proc.pid}) for {seconds:.0f} s ...", flush=True)
        next_report = t0 + 10
        while (now := time.monotonic()) < t0 + seconds:
            time.sleep(min(1.0, t0 + seconds - now))
            if time.monotonic() >= next_report:
                done = time.monotonic() - t0
                cpu = sum(proc.cpu_times()[:2]) - c0
                print(f"  {done:5.0f} s: cpu {100 * cpu / done:.3f} %  rss {proc.memory_info().rss / 2**20:.1f} MB",
                      flush=True)
                next_report += 10
        wall = time.monotonic() - t0
        cpu = sum(proc.cpu_times()[:2]) - c0
        peak = peak_rss_bytes(proc.pid)
        agent.stop()
        with collector.db() as db:
            series = db.execute("SELECT COUNT(*) FROM series WHERE host_id='bench-agent'").fetchone()[0]
        collector.kill()
    print(f"agent streamed {series} series; {cpu:.2f} CPU-s over {wall:.0f} s")
    print(f"agent_cpu_percent={100 * cpu / wall:.3f}")
    print(f"agent_rss_mb={peak / 2**20:.1f}")


if __name__ == "__main__":
    main()
