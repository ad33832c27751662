"""Micro-benchmark of the agent spool: append, stream, ack and reopen throughput.

    .venv/bin/python bench/spool.py [--quick] [--dir DIR] [--payload BYTES]

Runs in a temporary directory under --dir (default: the system temp dir); point --dir at the disk the
agent will really use, since fsync cost is a property of the disk. The headline figures are the last
lines, one per line, as name=value.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.spool import RecordKind, Spool


def timed(action: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    done = action()
    return done, time.perf_counter() - start


def bench_append(root: Path, n: int, payload: bytes, fsync: bool) -> float:
    with Spool(root / f"append-fsync-{fsync}", fsync=fsync) as spool:

        def run() -> int:
            for _ in range(n):
                spool.append(payload, RecordKind.SAMPLES, 20)
            return n

        done, seconds = timed(run)
    return done / seconds


def bench_stream(root: Path, n: int, payload: bytes) -> tuple[float, float, float]:
    """Records/s for streaming with pending() and acking each one, and for reopening a full spool."""
    path = root / "stream"
    with Spool(path, fsync=False) as spool:
        for _ in range(n):
            spool.append(payload, RecordKind.SAMPLES, 20)

    def reopen() -> int:
        with Spool(path, fsync=False) as reopened:
            return reopened.stats().depth_batches

    reopened_n, reopen_s = timed(reopen)
    with Spool(path, fsync=False) as spool:

        def read() -> int:
            return sum(1 for _ in spool.pending())

        read_n, read_s = timed(read)

        def ack_each() -> int:
            count = 0
            for seq, _ in spool.pending():
                spool.ack(seq)
                count += 1
            return count

        acked_n, ack_s = timed(ack_each)
    return read_n / read_s, acked_n / ack_s, reopened_n / reopen_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records, finishes in seconds")
    parser.add_argument("--dir", type=Path, default=None, help="where to create the temporary spools")
    parser.add_argument("--payload", type=int, default=500, help="payload bytes per record")
    args = parser.parse_args()
    n_fast, n_fsync = (20_000, 500) if args.quick else (200_000, 5_000)
    payload = os.urandom(args.payload)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="patrol-spool-bench-") as tmp:
        root = Path(tmp)
        nofsync = bench_append(root, n_fast, payload, fsync=False)
        fsync = bench_append(root, n_fsync, payload, fsync=True)
        read, ack_each, reopen = bench_stream(root, n_fast, payload)
    print(f"# {args.payload}-byte payloads, {n_fast} records (fsync off), {n_fsync} records (fsync on)")
    print(f"spool_append_nofsync_rps={nofsync:.0f}")
    print(f"spool_append_fsync_rps={fsync:.0f}")
    print(f"spool_pending_read_rps={read:.0f}")
    print(f"spool_ack_each_nofsync_rps={ack_each:.0f}")
    print(f"spool_reopen_scan_rps={reopen:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
