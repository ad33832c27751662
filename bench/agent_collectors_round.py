"""CPU cost of the agent's metric collectors on this machine.

Runs every default collector repeatedly (after a warm-up round, so rate collectors do their full
work) and reports the CPU time of one full round, the cost per collector, and the share of one
core the default schedule costs (each collector at its own default interval). Extra idle
processes can be spawned to see how the process collectors scale.

    .venv/bin/python bench/agent_collectors_round.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import time
from collections.abc import Iterator

import psutil

from agent.collectors import build_collectors
from agent.facts import collect_facts


@contextlib.contextmanager
def idle_processes(count: int) -> Iterator[None]:
    procs = [subprocess.Popen(["sleep", "600"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, finishes in a few seconds")
    parser.add_argument("--rounds", type=int, help="measured rounds (default 50, 500 without --quick)")
    parser.add_argument("--extra-procs", type=int, help="idle processes to spawn (default 200, 1000 without --quick)")
    args = parser.parse_args()
    rounds = args.rounds or (50 if args.quick else 500)
    extra = args.extra_procs if args.extra_procs is not None else (200 if args.quick else 1000)

    with idle_processes(extra):
        collectors = build_collectors({})
        for collector, _ in collectors:  # warm-up: the second call is the steady state
            collector.collect()
            collector.collect()
        per_collector: dict[str, list[float]] = {c.name: [] for c, _ in collectors}
        per_round: list[float] = []
        samples = 0
        for _ in range(rounds):
            round_start = time.process_time()
            for collector, _ in collectors:
                start = time.process_time()
                samples += len(collector.collect())
                per_collector[collector.name].append(time.process_time() - start)
            per_round.append(time.process_time() - round_start)
        facts_start = time.process_time()
        collect_facts("bench")
        facts_ms = (time.process_time() - facts_start) * 1000
        processes = len(psutil.pids())

    intervals = {c.name: interval for c, interval in collectors}
    mean_ms = {name: statistics.fmean(times) * 1000 for name, times in per_collector.items()}
    print(f"host: {psutil.cpu_count()} CPUs, {processes} processes ({extra} spawned), {rounds} rounds")
    print(f"{'collector':<10} {'interval_s':>10} {'cpu_ms':>8}")
    for name, ms in sorted(mean_ms.items(), key=lambda item: -item[1]):
        print(f"{name:<10} {intervals[name]:>10.0f} {ms:>8.3f}")
    schedule_percent = sum(ms / 1000 / intervals[name] for name, ms in mean_ms.items()) * 100
    per_round_ms = sorted(t * 1000 for t in per_round)
    print(f"facts_cpu_ms={facts_ms:.2f}")
    print(f"samples_per_round={samples / rounds:.0f}")
    print(f"rss_mb={psutil.Process().memory_info().rss / 2**20:.1f}")
    print(f"full_round_cpu_ms_mean={statistics.fmean(per_round_ms):.3f}")
    print(f"full_round_cpu_ms_p95={per_round_ms[int(0.95 * (len(per_round_ms) - 1))]:.3f}")
    print(f"default_schedule_cpu_percent_of_one_core={schedule_percent:.4f}")


if __name__ == "__main__":
    main()
