"""Log pipeline throughput: lines per CPU-second through the tailer and the default rule pack.

The input is a realistic mix where most lines match nothing: the real loghub samples
(``OpenSSH_2k.log``, ``Linux_2k.log``: auth failures, pam, ftpd, kernel...) make up about 5 % of
the lines, interleaved with typical benign traffic (nginx access lines, cron, systemd, dhclient,
kernel and application INFO lines, a few application ERROR lines). The file is written first,
then read from its beginning by the agent's own Tailer and Pipeline (default pack, default rate
limits), and the process CPU time of that reading is measured.

    .venv/bin/python bench/logs.py           # 1,000,000 lines
    .venv/bin/python bench/logs.py --quick   # 200,000 lines, well under a minute

Headline (last lines): ``log_lines_per_cpu_s`` (target >= 100,000) and ``log_rss_mb``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.logs.pipeline import Pipeline
from agent.logs.rules import load_rules
from agent.logs.tailer import Tailer

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "logs"
SAMPLE_SHARE = 0.05
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PATHS = ("/", "/api/v1/items", "/api/v1/items/{n}", "/static/app.{n}.js", "/login", "/health", "/search?q=x{n}")
AGENTS = ('"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"', '"curl/8.5.0"', '"kube-probe/1.29"')


def sample_lines() -> list[str]:
    lines: list[str] = []
    for name in ("OpenSSH_2k.log", "Linux_2k.log"):
        path = SAMPLES / name
        if path.exists():
            lines += [x.rstrip("\r") for x in path.read_text(encoding="utf-8").splitlines()]
    if not lines:
        sys.exit(f"bench/logs.py: the sample logs are missing from {SAMPLES}")
    return lines


def benign_line(rng: random.Random, i: int) -> str:
    hms = f"{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
    stamp = f"{MONTHS[(i // 500_000) % 12]} {1 + (i // 20_000) % 28:2d} {hms}"
    kind = rng.random()
    n = rng.randrange(100_000)
    if kind < 0.45:
        path = rng.choice(PATHS).format(n=n)
        status = rng.choice((200, 200, 200, 200, 304, 301, 404, 500))
        return (
            f"10.{n % 256}.{(n >> 8) % 256}.{i % 256} - - [{1 + i % 28:02d}/Mar/2026:{hms} +0000] "
            f'"GET {path} HTTP/1.1" {status} {n % 9000} "-" {rng.choice(AGENTS)}'
        )
    if kind < 0.60:
        return f"{stamp} web{n % 8} CRON[{n}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"
    if kind < 0.70:
        return f"{stamp} web{n % 8} systemd[1]: Started session-{n}.scope - Session {n} of User deploy."
    if kind < 0.76:
        return f"{stamp} web{n % 8} dhclient[{n}]: DHCPACK of 10.0.{n % 256}.5 from 10.0.0.1 (xid=0x{n:x})"
    if kind < 0.82:
        return f"{stamp} web{n % 8} kernel: [{i}.{n:06d}] usb 1-1: new high-speed USB device number {n % 128}"
    if kind < 0.995:
        return (
            f"2026-03-01 {hms},{n % 1000:03d} INFO "
            f"[worker-{n % 16}] app.jobs: processed batch {n} in {n % 977} ms ({n % 50} items)"
        )
    return f"2026-03-01 {hms},000 ERROR app.jobs: batch {n} failed"


def generate(path: Path, total: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    samples = sample_lines()
    with path.open("w", encoding="utf-8") as fh:
        buf: list[str] = []
        s = 0
        for i in range(total):
            if rng.random() < SAMPLE_SHARE:
                buf.append(samples[s % len(samples)])
                s += 1
            else:
                buf.append(benign_line(rng, i))
            if len(buf) >= 10_000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")


def measure(path: Path) -> tuple[int, int, Counter[str], float]:
    rules = load_rules()
    pipeline = Pipeline(rules, host="bench")  # agent defaults: rate limits on
    tailer = Tailer([str(path)], from_beginning=True)
    lines = 0
    events = 0
    start = time.process_time()
    while True:
        batch = tailer.poll()
        if not batch:
            break
        lines += len(batch)
        events += len(pipeline.process(batch))
    cpu = time.process_time() - start
    tailer.close()
    return lines, events, Counter(pipeline.match_counts), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 lines instead of 1,000,000")
    parser.add_argument("--lines", type=int, default=None)
    args = parser.parse_args()
    total = args.lines or (200_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="patrol-bench-logs-") as tmp:
        path = Path(tmp) / "mixed.log"
        generate(path, total)
        size_mb = path.stat().st_size / 1e6
        lines, events, matches, cpu = measure(path)
    rss_mb = psutil.Process().memory_info().rss / 1e6
    matched = sum(matches.values())
    print(
        f"file: {lines} lines, {size_mb:.1f} MB; matched {matched} ({100 * matched / max(lines, 1):.1f} %), "
        f"events after rate limiting {events}"
    )
    for rule, count in matches.most_common(8):
        print(f"  {rule:32s} {count}")
    print(f"cpu_s={cpu:.3f}")
    print(f"log_lines_per_cpu_s={lines / cpu:.0f}")
    print(f"log_rss_mb={rss_mb:.1f}")


if __name__ == "__main__":
    main()
