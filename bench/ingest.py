"""Ingest throughput: samples per collector CPU-second, end to end.

A real collector process (SQLite in WAL mode, synchronous=FULL) receives pre-encoded traffic from
1,000+ simulated agents over real gRPC streams on loopback. Every batch is decoded, deduplicated,
made durable, acked and folded into the 1-minute and 1-hour rollups; the final rollup flush is
included. The figure is total samples divided by the collector process's CPU time (user + system)
over that span, so it does not depend on how fast the load generator is.

With ``--export influx`` the collector also exports every sample to a VictoriaMetrics on loopback
through the InfluxDB v2 write API (Debian package ``victoria-metrics``); the span then ends when the
last sample is acknowledged by it, and the CPU figure includes the export.

With ``--store postgresql`` the state store is a throwaway PostgreSQL server on loopback (durable:
fsync and synchronous commit on, like SQLite's synchronous=FULL). The server runs in its own
processes: its CPU is measured separately (postmaster and backends, via psutil) and reported next to
the collector's, and ingest_samples_per_cpu_s stays the collector process alone.

With ``--peer victoria-metrics`` the same run then sends the same series and timestamps to a
temporary VictoriaMetrics (Debian's ``victoria-metrics``) on loopback, as the InfluxDB line protocol
that Patrol's export writes, one HTTP request per agent batch over as many keep-alive connections as
the agents' gRPC channels. The payloads are encoded before its clock starts; its CPU (user + system
of its process, from /proc) runs until it has flushed everything to disk (``/internal/force_flush``),
and the script checks that it stored every sample before printing both figures and their ratio.

``--profile FILE`` records the collector with py-spy (if installed) over the measured span, as
collapsed stacks (``py-spy record --format raw``).

    .venv/bin/python bench/ingest.py [--quick] [--agents 1000] [--minutes 15] [--step 10] [--batch-samples 600]
                                     [--export none|influx] [--store sqlite|postgresql]
                                     [--peer none|victoria-metrics] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import grpc
import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.export.lineprotocol import HostTags, SampleEncoder
from collector.simulator import EncodeStats, HistorySchedule, encoded_batches
from collector.store.samples import samples_of
from protos.patrol.v1 import agent_pb2 as pb
from tests.export.vm import VictoriaMetrics, find_binary
from tests.integration.harness import TOKEN, CollectorProcess, wait_for
from tests.store_pg.server import PostgresServer, PostgresUnavailable

METHOD = "/patrol.v1.AgentService/Connect"


async def send_agent(channel: grpc.aio.Channel, messages: list[bytes]) -> int:
    call = channel.stream_stream(METHOD, request_serializer=None,
                                 response_deserializer=pb.CollectorMessage.FromString)()
    last_seq = len(messages) - 1
    for m in messages:
        await call.write(m)
    acked = 0
    async for msg in call:
        if msg.WhichOneof("payload") == "ack":
            acked = msg.ack.seq
            if acked >= last_seq:
                break
    await call.done_writing()
    call.cancel()
    return acked


async def drive(target: str, per_agent: list[list[bytes]], channels: int) -> None:
    chans = [grpc.aio.insecure_channel(target, options=[("grpc.max_send_message_length", 64 * 2**20)])
             for _ in range(channels)]
    await asyncio.gather(*(send_agent(chans[i % channels], msgs) for i, msgs in enumerate(per_agent)))
    for c in chans:
        await c.close()


def collector_metric(api: str, name: str) -> float:
    """A sample of the collector's own ``/metrics`` (0 when it has none yet)."""
    text = httpx.get(f"{api}/metrics", timeout=30).text
    return next((s.value for fam in text_string_to_metric_families(text) for s in fam.samples
                 if s.name == name), 0.0)


def exported_samples(api: str) -> float:
    return collector_metric(api, "patrol_export_samples_total")


def start_export_target(workdir: Path) -> VictoriaMetrics:
    binary = find_binary()
    if binary is None:
        sys.exit("--export influx needs VictoriaMetrics as the target: apt-get install victoria-metrics")
    return VictoriaMetrics(workdir, binary=binary).start()


def start_postgres() -> PostgresServer:
    try:
        server = PostgresServer(durable=True).start()
    except PostgresUnavailable as e:
        sys.exit(f"--store postgresql: {e}")
    atexit.register(server.cleanup)  # also when the run fails half-way (cleanup is idempotent)
    return server


def store_totals(url: str) -> tuple[int, int]:
    """Sample batches in the ingest log and points in the 1-minute rollups."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT COUNT(*) FROM ingest_log")).scalar_one()
            rollup = conn.execute(text("SELECT COALESCE(SUM(count), 0) FROM rollup_1m")).scalar_one()
    finally:
        engine.dispose()
    return int(stored), int(rollup)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def line_protocol_batches(per_agent: dict[str, list[bytes]]) -> tuple[list[list[bytes]], int]:
    """Each agent's Samples batches as line protocol request bodies (ms timestamps), and the samples they carry."""
    encoder = SampleEncoder()
    out: list[list[bytes]] = []
    total = 0
    for messages in per_agent.values():
        hello = pb.AgentMessage.FromString(messages[0]).hello
        host = HostTags(host_id=hello.agent_id, hostname=hello.hostname, customer=hello.customer)
        bodies: list[bytes] = []
        for data in messages[1:]:
            samples = samples_of(pb.AgentMessage.FromString(data))
            if samples is None:
                continue
            lines, count = encoder.encode(host, samples)
            bodies.append(("\n".join(lines) + "\n").encode())
            total += count
        out.append(bodies)
    return out, total


def stored_in_vm(url: str) -> int:
    """Samples a VictoriaMetrics holds for the bench's hosts (every series carries a host_id tag)."""
    n = 0
    with httpx.stream("POST", f"{url}/api/v1/export/csv", timeout=600,
                      data={"match[]": '{host_id=~".+"}', "format": "__timestamp__:unix_ms"}) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            n += chunk.count(b"\n")
    return n


def run_victoria_metrics(workdir: Path, per_agent: dict[str, list[bytes]],
                         connections: int) -> tuple[int, float, float]:
    """Send the fleet's samples to a fresh VictoriaMetrics: (samples stored, its CPU-s, wall s)."""
    bodies, expected = line_protocol_batches(per_agent)
    vm = start_export_target(workdir)
    assert vm.proc is not None
    try:
        cpu0 = process_cpu_seconds(vm.proc.pid)
        t0 = time.perf_counter()
        with httpx.Client(limits=httpx.Limits(max_connections=connections), timeout=600) as client:
            def send(agent_bodies: list[bytes]) -> None:
                for body in agent_bodies:
                    client.post(f"{vm.url}/write", params={"precision": "ms"}, content=body).raise_for_status()

            with ThreadPoolExecutor(max_workers=connections) as pool:
                list(pool.map(send, bodies))
            client.get(f"{vm.url}/internal/force_flush").raise_for_status()
        wall = time.perf_counter() - t0
        cpu = process_cpu_seconds(vm.proc.pid) - cpu0
        inserted = vm.rows_inserted()
        stored = stored_in_vm(vm.url)
    finally:
        vm.stop()
    assert inserted == expected, f"VictoriaMetrics took {inserted} samples, {expected} sent"
    assert stored == expected, f"VictoriaMetrics holds {stored} samples, {expected} sent"
    return stored, cpu, wall


def thread_cpu(proc: psutil.Process) -> dict[str, float]:
    """CPU seconds (user + system) so far of the process's threads, summed by thread name."""
    by_name: dict[str, float] = {}
    for t in proc.threads():
        try:
            name = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:
            name = "?"
        name = "main (asyncio, gRPC handlers)" if t.id == proc.pid else name
        by_name[name] = by_name.get(name, 0.0) + t.user_time + t.system_time
    return by_name


def start_profiler(pid: int, out: str) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("--profile: py-spy is not installed (pip install py-spy); not profiling", flush=True)
        return None
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--output", out,
                             "--rate", "200", "--threads", "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smaller run that finishes in well under 60 s")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=None, help="history per agent")
    ap.add_argument("--step", type=int, default=10, help="seconds between an agent's collections (default 10)")
    ap.add_argument("--batch-samples", type=int, default=600,
                    help="samples per batch (600: an agent batching a minute of 10-s collections)")
    ap.add_argument("--channels", type=int, default=32, help="HTTP/2 connections the agents share")
    ap.add_argument("--export", choices=["none", "influx"], default="none",
                    help="also export every sample through the InfluxDB v2 write API (to a local VictoriaMetrics)")
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite",
                    help="the state store: SQLite (default) or a temporary PostgreSQL server on loopback")
    ap.add_argument("--peer", choices=["none", "victoria-metrics"], default="none",
                    help="also send the same samples to a temporary VictoriaMetrics and compare CPU per sample")
    ap.add_argument("--profile", metavar="FILE", help="record the collector with py-spy (collapsed stacks)")
    args = ap.parse_args()
    minutes = args.minutes or (3 if args.quick else 15)

    print(f"encoding {args.agents} agents x {minutes} min at a {args.step}-s step ...", flush=True)
    stats = EncodeStats()
    per_agent: dict[str, list[bytes]] = {}
    for agent_id, data in encoded_batches(agents=args.agents, customers=10, seed=7, stats=stats,
                                          batch_samples=args.batch_samples,
                                          schedule=HistorySchedule(history=timedelta(minutes=minutes),
                                                                   step=timedelta(seconds=args.step),
                                                                   coarse_step=timedelta(seconds=args.step))):
        per_agent.setdefault(agent_id, []).append(data)
    customers = sorted({pb.AgentMessage.FromString(m[0]).hello.customer for m in per_agent.values()})
    print(f"  {stats.samples:,} samples, {stats.events:,} events in {stats.batches:,} batches "
          f"({stats.bytes / 2**20:.1f} MiB)", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        pg = start_postgres() if args.store == "postgresql" else None
        store_url = pg.create_database("bench") if pg else None
        vm = start_export_target(Path(tmp) / "victoria-metrics") if args.export == "influx" else None
        export = {"export": {"influx": {"url": vm.url, "org": "bench", "bucket": "patrol"}}} if vm else {}
        collector = CollectorProcess(Path(tmp), customers=[{"id": c, "name": c} for c in customers],
                                     limits={"max_message_bytes": 64 * 2**20, "ingest_queue": 4096,
                                             "hello_timeout": "60s"},
                                     store={"flush_interval": "2s", "coarse_flush_interval": "30s",  # the defaults
                                            **({"url": store_url} if store_url else {})},
                                     log_level="WARNING", **export)
        collector.start()
        assert collector.proc is not None
        proc = psutil.Process(collector.proc.pid)
        cpu0 = sum(proc.cpu_times()[:2])
        threads0 = thread_cpu(proc)
        pg_cpu0 = pg.cpu_seconds() if pg else 0.0
        spy = start_profiler(proc.pid, args.profile) if args.profile else None
        t0 = time.perf_counter()
        asyncio.run(drive(f"127.0.0.1:{collector.grpc_port}", list(per_agent.values()), args.channels))
        httpx.post(f"{collector.api}/api/v1/admin/flush", headers={"Authorization": f"Bearer {TOKEN}"},
                   timeout=600).raise_for_status()
        if vm is not None:
            wait_for(lambda: exported_samples(collector.api) >= stats.samples, 600, "every sample exported",
                     interval=0.05)
        wall = time.perf_counter() - t0
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        stop_profiler(spy)
        pg_cpu = pg.cpu_seconds() - pg_cpu0 if pg else None
        flushes = collector_metric(collector.api, "patrol_rollup_flush_seconds_count")
        commits = collector_metric(collector.api, "patrol_ingest_commit_seconds_count")
        rollup_rows = collector_metric(collector.api, "patrol_rollup_rows_written_total")
        status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        peak_rss = next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")), 0)
        by_thread = thread_cpu(proc)
        for name, secs in threads0.items():
            by_thread[name] = by_thread.get(name, 0.0) - secs
        stored, rollup = store_totals(store_url or f"sqlite:///{collector.db_path}")
        collector.kill()
        if pg is not None:
            pg.cleanup()
        if vm is not None:
            vm_rows = vm.rows_inserted()
            vm.stop()
            # Each log event is one point with three fields (count, line, source).
            sent = stats.samples + 3 * stats.events
            assert vm_rows == sent, f"VictoriaMetrics took {vm_rows} values, {sent} exported"
        peer = (run_victoria_metrics(Path(tmp) / "peer-victoria-metrics", per_agent, args.channels)
                if args.peer == "victoria-metrics" else None)
    samples_batches = stats.batches - sum(1 for m in per_agent.values() for x in m[1:]
                                          if pb.AgentMessage.FromString(x).WhichOneof("payload") == "events")
    assert stored == samples_batches, f"{stored} sample batches stored, {samples_batches} sent"
    assert rollup == stats.samples, f"rollups hold {rollup} points, {stats.samples} sent"
    print(f"collector: {cpu:.1f} CPU-s over {wall:.1f} s wall; every batch stored once, rollups complete")
    print(f"  {commits:.0f} commits, {flushes:.0f} rollup flushes writing {rollup_rows:,.0f} rollup and latest rows; "
          f"peak RSS {peak_rss / 2**20:.0f} MiB")
    for name, secs in sorted(by_thread.items(), key=lambda kv: -kv[1])[:4]:
        print(f"  thread {name:<32} {secs:6.1f} CPU-s")
    if vm is not None:
        print("export: VictoriaMetrics accepted every sample and event exactly once")
    if pg_cpu is not None:
        print(f"postgresql server (separate processes): {pg_cpu:.1f} CPU-s over the same span")
    print(f"ingest_export={args.export}")
    print(f"ingest_store={args.store}")
    print(f"ingest_samples_per_s_wall={stats.samples / wall:,.0f}".replace(",", ""))
    print(f"ingest_agents={args.agents}")
    print(f"ingest_samples_per_cpu_s={stats.samples / cpu:.0f}")
    if pg_cpu is not None:
        print(f"ingest_postgres_server_cpu_s={pg_cpu:.1f}")
        print(f"ingest_samples_per_cpu_s_incl_postgres={stats.samples / (cpu + pg_cpu):.0f}")
    if peer is not None:
        vm_samples, vm_cpu, vm_wall = peer
        patrol_rate = stats.samples / (cpu + (pg_cpu or 0.0))
        vm_rate = vm_samples / vm_cpu
        print(f"victoria-metrics: {vm_cpu:.1f} CPU-s over {vm_wall:.1f} s wall for the same {vm_samples:,} samples, "
              f"every one stored")
        print(f"ingest_victoriametrics_samples_per_cpu_s={vm_rate:.0f}")
        print(f"ingest_ratio_vs_victoriametrics={patrol_rate / vm_rate:.3f}")


if __name__ == "__main__":
    main()
