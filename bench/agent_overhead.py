"""The agent's footprint: share of one core and peak RSS with all default collectors at 10 s.

A real agent process streams to a real collector on loopback for the whole run. CPU is the agent's
user+system time over the measured span (after a warm-up) divided by wall time; memory is the peak
resident set (VmHWM) over the whole run.

With ``--peers`` the same span also measures, side by side, Debian's collectd (cpu, load, memory,
swap, df, disk, interface, processes, uptime and tcpconns at 10 s, written as CSV into a temporary
directory) and Prometheus' node_exporter (all default collectors) scraped every 10 s by a scraper
thread of this benchmark. Only the peers' own processes are counted, never the scraper.

    .venv/bin/python bench/agent_overhead.py [--quick] [--seconds 300] [--peers]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.localrun import free_port, wait_until
from tests.integration.harness import AgentProcess, CollectorProcess

COLLECTD = "/usr/sbin/collectd"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
COLLECTD_PLUGINS = ("cpu", "load", "memory", "swap", "df", "disk", "interface", "processes", "uptime", "tcpconns")
PEER_INTERVAL = 10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of all threads of ``pid`` (fields 14 and 15 of /proc/<pid>/stat)."""
    data = Path(f"/proc/{pid}/stat").read_bytes()
    fields = data[data.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def peak_rss_bytes(pid: int) -> int:
    return status_kb(pid, "VmHWM") * 1024


def rss_bytes(pid: int) -> int:
    return status_kb(pid, "VmRSS") * 1024


def collectd_config(tmp: Path) -> str:
    loads = "\n".join(f"LoadPlugin {p}" for p in (*COLLECTD_PLUGINS, "csv", "logfile"))
    return f"""Hostname "bench"
FQDNLookup false
BaseDir "{tmp}"
PIDFile "{tmp}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval {PEER_INTERVAL}
<Plugin logfile>
  LogLevel "warning"
  File "{tmp}/collectd.log"
</Plugin>
{loads}
<Plugin tcpconns>
  ListeningPorts false
  AllPortsSummary true
</Plugin>
<Plugin csv>
  DataDir "{tmp}/csv"
  StoreRates true
</Plugin>
"""


def stray_peers() -> list[str]:
    """Running collectd or node_exporter processes this benchmark did not start."""
    found = subprocess.run(["pgrep", "-a", "-f", f"^({COLLECTD}|{NODE_EXPORTER})( |$)"],
                           capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if line.strip()]


@dataclass
class Peer:
    name: str
    proc: subprocess.Popen[bytes]


class Scraper(threading.Thread):
    """GETs node_exporter's /metrics every ``interval`` seconds, as Prometheus would."""

    def __init__(self, url: str, interval: float) -> None:
        super().__init__(name="scraper", daemon=True)
        self.url, self.interval = url, interval
        self.stop = threading.Event()
        self.scrapes = 0
        self.bytes = 0

    def run(self) -> None:
        while not self.stop.is_set():
            with urllib.request.urlopen(self.url, timeout=30) as r:
                self.bytes += len(r.read())
            self.scrapes += 1
            self.stop.wait(self.interval)


def start_peers(tmp: Path) -> tuple[list[Peer], Scraper]:
    for binary in (COLLECTD, NODE_EXPORTER):
        if not Path(binary).exists():
            sys.exit(f"{binary} is missing: apt-get install collectd-core prometheus-node-exporter")
    stray = stray_peers()
    if stray:
        sys.exit("other collectd/node_exporter processes are running and would disturb the figures "
                 "(stop them first):\n  " + "\n  ".join(stray))
    conf = tmp / "collectd.conf"
    conf.write_text(collectd_config(tmp))
    collectd = subprocess.Popen([COLLECTD, "-f", "-C", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=(tmp / "collectd.out").open("wb"))
    port = free_port()
    exporter = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=(tmp / "node_exporter.out").open("wb"))
    peers = [Peer("collectd", collectd), Peer("node_exporter", exporter)]
    url = f"http://127.0.0.1:{port}/metrics"

    def exporter_up() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    wait_until(exporter_up, 30, f"node_exporter on {url}", 0.2)
    scraper = Scraper(url, PEER_INTERVAL)
    scraper.start()
    return peers, scraper


def stop_peers(peers: list[Peer], scraper: Scraper | None) -> None:
    if scraper is not None:
        scraper.stop.set()
        scraper.join(timeout=35)
    for peer in peers:
        peer.proc.terminate()
    for peer in peers:
        try:
            peer.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            peer.proc.kill()
            peer.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50 s instead of 5 minutes")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--warmup", type=float, default=12.0, help="seconds before measuring (imports, first round)")
    ap.add_argument("--peers", action="store_true", help="measure collectd and node_exporter in the same run")
    args = ap.parse_args()
    seconds = args.seconds or (50.0 if args.quick else 300.0)
    peers: list[Peer] = []
    scraper: Scraper | None = None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        collector = CollectorProcess(tmp / "collector", log_level="WARNING").start()
        try:
            if args.peers:
                (tmp / "peers").mkdir()
                peers, scraper = start_peers(tmp / "peers")
            # Defaults throughout: every collector at its default interval, batches every 10 s.
            agent = AgentProcess(tmp / "agent", f"127.0.0.1:{collector.grpc_port}", agent_id="bench-agent",
                                 batch_interval=10, collectors={}, trace_file=None, log_level="WARNING",
                                 transport={}).start()
            assert agent._process.proc is not None
            measured = {"agent": agent._process.proc.pid, **{p.name: p.proc.pid for p in peers}}
            time.sleep(args.warmup)
            for name, peer_pid in measured.items():
                if not Path(f"/proc/{peer_pid}").exists():
                    sys.exit(f"{name} (pid {peer_pid}) exited during the warm-up; see {tmp}")
            t0 = time.monotonic()
            c0 = {name: cpu_seconds(pid) for name, pid in measured.items()}
            print("measuring " + ", ".join(f"{n} (pid {p})" for n, p in measured.items()) + f" for {seconds:.0f} s",
                  flush=True)
            next_report = t0 + 10
            while (now := time.monotonic()) < t0 + seconds:
                time.sleep(min(1.0, t0 + seconds - now))
                if time.monotonic() >= next_report:
                    done = time.monotonic() - t0
                    print(f"  {done:5.0f} s: " + "  ".join(
                        f"{n} cpu {100 * (cpu_seconds(p) - c0[n]) / done:.3f} % rss {rss_bytes(p) / 2**20:.1f} MB"
                        for n, p in measured.items()), flush=True)
                    next_report += 10
            wall = time.monotonic() - t0
            cpu = {name: cpu_seconds(pid) - c0[name] for name, pid in measured.items()}
            peak = {name: peak_rss_bytes(pid) for name, pid in measured.items()}
            agent.stop()
            with collector.db() as db:
                series = db.execute("SELECT COUNT(*) FROM series WHERE host_id='bench-agent'").fetchone()[0]
        finally:
            stop_peers(peers, scraper)
            collector.kill()
        csv_files = sum(1 for _ in (tmp / "peers" / "csv").rglob("*")) if peers else 0
        if peers:
            shutil.rmtree(tmp / "peers", ignore_errors=True)
    print(f"agent streamed {series} series; {cpu['agent']:.2f} CPU-s over {wall:.0f} s")
    if scraper is not None:
        print(f"collectd wrote {csv_files} CSV files and directories; node_exporter served {scraper.scrapes} scrapes "
              f"of {scraper.bytes / max(1, scraper.scrapes) / 1024:.0f} kB")
    for name in measured:
        prefix = "agent" if name == "agent" else name
        print(f"{prefix}_cpu_percent={100 * cpu[name] / wall:.3f}")
        print(f"{prefix}_rss_mb={peak[name] / 2**20:.1f}")
    for name in measured:
        if name != "agent":
            ratio = cpu["agent"] / cpu[name] if cpu[name] > 0 else float("inf")
            print(f"agent_cpu_ratio_vs_{name}={ratio:.2f}")
            print(f"agent_rss_ratio_vs_{name}={peak['agent'] / peak[name]:.2f}")


if __name__ == "__main__":
    main()
