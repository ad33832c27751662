"""Soak: real agents and a real collector under crashes, partitions and hostile streams.

N agent processes stream to one collector process (SQLite), each through its own loopback TCP proxy
that can be cut like a network partition (nothing moves, nothing is dropped from a live connection).
For M minutes a seeded chaos loop kills the collector (SIGKILL, restart after a moment), kills
agents (SIGKILL, restart on the same spool) and cuts agents' network paths, while hostile clients
open raw gRPC streams to the collector: random bytes, oversized messages, streams without Hello,
idle streams, NaN and infinite values, absurd timestamps, sequence numbers of 2^63 and more, and
label floods. A latency probe (a well-behaved raw client) sends one small batch at a time and times
each ack.

At the end every path is healed, every agent is running again and then stopped cleanly (draining
its spool), and each good agent's trace (every batch it spooled: seq, samples, value sum) is
compared with the collector's ingest log:

- lost: traced batches the store does not hold and the agent's spool no longer does either (the
  probe: acked batches the store does not hold);
- undelivered: traced batches still waiting in a stopped agent's spool (the collector never took them);
- duplicated: batches the store holds more than once;
- untraced: stored batches missing from a trace (an agent killed between spooling and tracing).

Also printed: quarantined batches (``patrol_ingest_quarantined_batches_total`` from ``/metrics``,
summed over collector restarts; 0 when the collector has no such counter), peak collector RSS, the
probe's ack latency percentiles, collector exits nobody asked for, the status of ``GET
/api/v1/hosts`` at the end, and how each kind of hostile stream ended. Exit status 1 when a good
agent lost, duplicated or could not deliver anything, or the collector died or stalled on its own.

    .venv/bin/python bench/soak.py [--quick] [--agents 4] [--minutes 3] [--seed N] [--hostile-clients 2]
                                   [--hostile-kinds random_bytes,oversized,...] [--chaos-every 8] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import queue
import random
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.store.samples import logged_samples
from protos.patrol.v1 import agent_pb2 as pb
from tests.integration.harness import TOKEN, AgentProcess, CollectorProcess, TcpProxy, wait_for

METHOD = "/patrol.v1.AgentService/Connect"
QUARANTINE_METRIC = "patrol_ingest_quarantined_batches"  # the parser drops the _total suffix
INT64_MAX = 2**63 - 1


# ---------------------------------------------------------------------------------------- hostile streams


def _hello(agent_id: str) -> bytes:
    return pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, hostname=agent_id, customer="acme", version="soak",
                                          spool_epoch=uuid.uuid4().hex)).SerializeToString()


def _samples(seq: int, series: list[pb.Series]) -> bytes:
    return pb.AgentMessage(samples=pb.Samples(seq=seq, series=series)).SerializeToString()


def _now_ms() -> int:
    return int(time.time() * 1000)


def random_bytes(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _hello(agent_id)
    for _ in range(rng.randint(1, 5)):
        yield rng.randbytes(rng.randint(1, 4096))


def oversized(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _hello(agent_id)
    big = pb.Series(name="soak.big", labels={"blob": "x" * (6 * 2**20)}, timestamps_ms=[_now_ms()], values=[1.0])
    yield _samples(1, [big])


def no_hello(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _samples(1, [pb.Series(name="soak.x", timestamps_ms=[_now_ms()], values=[1.0])])


def idle(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _hello(agent_id)
    time.sleep(rng.uniform(3, 12))


def nan_inf(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _hello(agent_id)
    now = _now_ms()
    # Two batches in one minute whose 1-minute sums overflow to +inf and -inf (NaN once combined).
    yield _samples(1, [pb.Series(name="soak.overflow", timestamps_ms=[now, now + 1], values=[1e308, 1e308])])
    yield _samples(2, [pb.Series(name="soak.overflow", timestamps_ms=[now + 2, now + 3], values=[-1e308, -1e308])])
    yield _samples(3, [pb.Series(name="soak.nan", timestamps_ms=[now] * 3,
                                 values=[math.nan, math.inf, -math.inf])])


def absurd_timestamps(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _hello(agent_id)
    stamps = [253402300800000, 2**62, -(2**62), INT64_MAX, -INT64_MAX]  # year 10000, ±2^62, int64 max
    yield _samples(1, [pb.Series(name="soak.when", timestamps_ms=stamps, values=[1.0] * len(stamps))])


def huge_seq(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _hello(agent_id)
    for seq in (INT64_MAX, 2**63, 2**64 - 1):
        yield _samples(seq, [pb.Series(name="soak.seq", timestamps_ms=[_now_ms()], values=[1.0])])


def label_flood(rng: random.Random, agent_id: str) -> Iterator[bytes]:
    yield _hello(agent_id)
    now = _now_ms()
    for seq in range(1, 4):
        yield _samples(seq, [pb.Series(name="soak.flood", labels={"id": f"{seq}-{i}-{rng.getrandbits(32)}"},
                                       timestamps_ms=[now], values=[float(i)]) for i in range(5000)])


HOSTILE: dict[str, Callable[[random.Random, str], Iterator[bytes]]] = {
    f.__name__: f for f in (random_bytes, oversized, no_hello, idle, nan_inf, absurd_timestamps, huge_seq,
                            label_flood)
}


def run_hostile_stream(target: str, kind: str, rng: random.Random, agent_id: str) -> str:
    """One hostile stream; how it ended: the gRPC status name, or 'acked' / 'closed' when it ended well."""
    with grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 * 2**20)]) as channel:
        call = channel.stream_stream(METHOD, request_serializer=None,
                                     response_deserializer=pb.CollectorMessage.FromString)
        try:
            acked = False
            for msg in call(HOSTILE[kind](rng, agent_id), timeout=30):
                acked = acked or msg.WhichOneof("payload") == "ack"
            return "acked" if acked else "closed"
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            return getattr(code, "name", str(code))


# ---------------------------------------------------------------------------------------- network paths


class PartitionProxy(TcpProxy):
    """A loopback TCP proxy whose path can be cut the way a network partition cuts it.

    While cut, nothing moves in either direction and bytes wait in the sockets' buffers, as they do
    in TCP during an outage; when it heals, a connection that is still open carries on with every
    byte in order, and one that a side gave up on delivers what it had sent, then ends. (The
    harness's own cut drops the bytes instead, which no network does to a live connection: after a
    cut shorter than the keepalive, a stream would go on with whole messages missing.)
    """

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.open = threading.Event()
        self.open.set()

    def partition(self, seconds: float) -> None:
        self.open.clear()
        heal = threading.Timer(seconds, self.open.set)
        heal.daemon = True
        heal.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        super()._pump(_HeldSocket(src, self.open), _HeldSocket(dst, self.open))  # type: ignore[arg-type]

    def close(self) -> None:
        self.open.set()
        super().close()


class _HeldSocket:
    """A socket whose reads and writes wait while the path is cut."""

    def __init__(self, sock: socket.socket, open_path: threading.Event) -> None:
        self._sock, self._open = sock, open_path

    def recv(self, size: int) -> bytes:
        self._open.wait()
        return self._sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self._open.wait()
        self._sock.sendall(data)

    def close(self) -> None:
        self._sock.close()


# ---------------------------------------------------------------------------------------- latency probe


@dataclass
class Probe:
    """A well-behaved raw client: one small batch at a time, resent after a broken stream, acks timed."""

    target: str
    agent_id: str = "soak-probe"
    epoch: str = field(default_factory=lambda: uuid.uuid4().hex)
    latencies_ms: list[float] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    next_seq: int = 1

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(grpc.RpcError):
                self._stream()
            self.stop.wait(0.5)

    def _stream(self) -> None:
        """One stream's life; a batch whose ack it did not see goes again on the next stream."""
        outbox: queue.Queue[bytes | None] = queue.Queue()
        hello = pb.Hello(agent_id=self.agent_id, hostname=self.agent_id, customer="acme", version="soak",
                         spool_epoch=self.epoch, acked_seq=self.next_seq - 1)
        outbox.put(pb.AgentMessage(hello=hello).SerializeToString())

        def requests() -> Iterator[bytes]:
            while (item := outbox.get()) is not None:
                yield item

        with grpc.insecure_channel(self.target) as channel:
            call = channel.stream_stream(METHOD, request_serializer=None,
                                         response_deserializer=pb.CollectorMessage.FromString)
            responses = call(requests())
            try:
                while not self.stop.is_set():
                    seq = self.next_seq
                    series = pb.Series(name="soak.probe", timestamps_ms=[_now_ms()], values=[float(seq)])
                    sent = time.monotonic()
                    outbox.put(_samples(seq, [series]))
                    for msg in responses:
                        if msg.WhichOneof("payload") == "ack" and msg.ack.seq >= seq:
                            self.latencies_ms.append((time.monotonic() - sent) * 1000)
                            self.acked.add(seq)
                            break
                    else:
                        return  # the stream ended before the ack
                    self.next_seq = seq + 1
                    self.stop.wait(0.2)
            finally:
                outbox.put(None)
                responses.cancel()


# ---------------------------------------------------------------------------------------- the soak


@dataclass
class Tally:
    collector_kills: int = 0
    agent_kills: int = 0
    partitions: int = 0
    collector_unplanned_exits: int = 0
    collector_stalled_starts: int = 0  # started, but its API was not up within 60 s
    peak_rss: int = 0
    quarantined_done: float = 0.0  # from collector lifetimes that ended
    quarantined_now: float = 0.0
    hostile: Counter[tuple[str, str]] = field(default_factory=Counter)


class Soak:
    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.tally = Tally()
        self.lock = threading.Lock()  # the collector's lifecycle: chaos and the watchdog both restart it
        self.stop = threading.Event()
        self.collector = CollectorProcess(root / "collector", store={"flush_interval": "0.5s"})
        self.target = f"127.0.0.1:{self.collector.grpc_port}"
        self.proxies: list[PartitionProxy] = []
        self.agents: list[AgentProcess] = []
        self.agent_ids = [f"soak-agent-{i}" for i in range(args.agents)]
        self.probe = Probe(self.target)
        self.root = root
        self.started = time.monotonic()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.collector.start()
        for agent_id in self.agent_ids:
            proxy = PartitionProxy(self.collector.grpc_port)
            self.proxies.append(proxy)
            self.agents.append(AgentProcess(self.root / agent_id, f"127.0.0.1:{proxy.port}", agent_id=agent_id).start())
        for target in (self._watch, self.probe.run, *[self._hostile_client] * self.args.hostile_clients):
            threading.Thread(target=target, daemon=True).start()

    def _collector_pid(self) -> int | None:
        proc = self.collector.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _kill_collector(self) -> None:
        with self.lock:
            self._close_collector_lifetime()
            self.collector.kill(signal.SIGKILL)
            self.tally.collector_kills += 1
            time.sleep(self.rng.uniform(0.5, 4))
            self._start_collector()

    def _start_collector(self) -> None:
        """Start the collector; one whose API does not come up is counted, reported and left running."""
        try:
            self.collector.start()
        except AssertionError:
            self.tally.collector_stalled_starts += 1
            tail = self.collector.log_path.read_text(errors="replace").splitlines()[-3:]
            print(f"[{self._elapsed()}] collector API not up 60 s after its start; its log ends with:", flush=True)
            for line in tail:
                print(f"    {line[:300]}", flush=True)

    def _close_collector_lifetime(self) -> None:
        self._scrape_quarantined()
        self.tally.quarantined_done += self.tally.quarantined_now
        self.tally.quarantined_now = 0.0

    def _watch(self) -> None:
        """Peak RSS, the quarantine counter, and collector exits nobody asked for (restarted, counted)."""
        last_scrape = 0.0
        while not self.stop.is_set():
            with self.lock:
                pid = self._collector_pid()
                if pid is None and self.collector.proc is not None:
                    self.tally.collector_unplanned_exits += 1
                    print(f"collector exited on its own (status {self.collector.proc.poll()}); restarting it",
                          flush=True)
                    self.tally.quarantined_now = 0.0
                    self._start_collector()
                elif pid is not None:
                    with contextlib.suppress(psutil.Error):
                        self.tally.peak_rss = max(self.tally.peak_rss, psutil.Process(pid).memory_info().rss)
                    if time.monotonic() - last_scrape > 2:
                        self._scrape_quarantined()
                        last_scrape = time.monotonic()
            self.stop.wait(0.5)

    def _scrape_quarantined(self) -> None:
        try:
            text = httpx.get(f"{self.collector.api}/metrics", timeout=5).text
        except httpx.HTTPError:
            return
        total = sum(s.value for fam in text_string_to_metric_families(text) if fam.name == QUARANTINE_METRIC
                    for s in fam.samples if s.name.endswith("_total"))
        self.tally.quarantined_now = max(self.tally.quarantined_now, total)

    def _hostile_client(self) -> None:
        rng = random.Random(self.rng.getrandbits(64))
        kinds = self.args.hostile_kinds
        while not self.stop.is_set():
            kind = rng.choice(kinds)
            agent_id = f"soak-hostile-{kind}-{rng.randrange(3)}"  # a few ids per kind, not a host per stream
            try:
                outcome = run_hostile_stream(self.target, kind, rng, agent_id)
            except Exception as e:  # the client side breaking is reported, never hidden
                outcome = f"client error {type(e).__name__}"
            with self.lock:
                self.tally.hostile[(kind, outcome)] += 1
            self.stop.wait(rng.uniform(0.2, 1.0))

    # ------------------------------------------------------------------ chaos

    def chaos(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(self.rng.uniform(0.5, 1.5) * self.args.chaos_every, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                break
            roll = self.rng.random()
            if roll < 0.25:
                print(f"[{self._elapsed()}] kill -9 collector", flush=True)
                self._kill_collector()
            elif roll < 0.6:
                i = self.rng.randrange(len(self.agents))
                print(f"[{self._elapsed()}] kill -9 {self.agent_ids[i]}", flush=True)
                self.agents[i].stop(signal.SIGKILL)
                self.tally.agent_kills += 1
                time.sleep(self.rng.uniform(0.5, 3))
                self.agents[i].start()
            else:
                i = self.rng.randrange(len(self.proxies))
                cut = self.rng.uniform(3, 15)
                print(f"[{self._elapsed()}] cut {self.agent_ids[i]}'s network for {cut:.0f} s", flush=True)
                self.tally.partitions += 1
                self.proxies[i].partition(cut)

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    # ------------------------------------------------------------------ the end

    def finish(self) -> bool:
        """Heal, drain and compare; True when the good agents lost and duplicated nothing."""
        for proxy in self.proxies:
            proxy.open.set()
        self.stop.set()
        self.probe.stop.set()
        with self.lock:
            if self._collector_pid() is None:
                self._start_collector()

        def caught_up() -> bool:
            with contextlib.closing(self.collector.db()) as db:
                return all(set(a.trace()) <= set(stored_counts(db, i)) for a, i in zip(self.agents, self.agent_ids,
                                                                                            strict=True))

        with contextlib.suppress(AssertionError):
            wait_for(caught_up, self.args.drain_timeout, "the agents' spools to drain", interval=1)
        for agent in self.agents:
            with contextlib.suppress(AssertionError):
                agent.stop(signal.SIGTERM, timeout=30)
        with contextlib.suppress(httpx.HTTPError):
            self.collector.flush()
        return self.report()

    def report(self) -> bool:
        t, args = self.tally, self.args
        lost = undelivered = duplicated = untraced = produced = 0
        with contextlib.closing(self.collector.db()) as db:
            for agent, agent_id in zip(self.agents, self.agent_ids, strict=True):
                traced = agent.trace()
                counts = stored_counts(db, agent_id)
                acked_seq = int(agent.spool_stats()["acked_seq"])
                missing = set(traced) - set(counts)
                # Not acked: still in the stopped agent's spool, sent when the collector takes it.
                waiting = {seq for seq in missing if seq > acked_seq}
                produced += len(traced)
                undelivered += len(waiting)
                lost += len(missing - waiting)
                duplicated += sum(n - 1 for n in counts.values() if n > 1)
                untraced += len(set(counts) - set(traced))
            probe_counts = stored_counts(db, self.probe.agent_id)
        probe_lost = len(self.probe.acked - set(probe_counts))
        probe_dup = sum(n - 1 for n in probe_counts.values() if n > 1)
        self._scrape_quarantined()
        quarantined = t.quarantined_done + t.quarantined_now
        try:
            hosts_status: int | str = httpx.get(f"{self.collector.api}/api/v1/hosts", timeout=30,
                                                headers={"Authorization": f"Bearer {TOKEN}"}).status_code
        except httpx.HTTPError as e:
            hosts_status = type(e).__name__
        lat = sorted(self.probe.latencies_ms)
        minutes = args.minutes
        print()
        print(f"soak seed={args.seed} agents={args.agents} minutes={minutes:g} hostile_clients={args.hostile_clients}"
              f" hostile_kinds={','.join(args.hostile_kinds)}")
        print(f"chaos: collector_kills={t.collector_kills} agent_kills={t.agent_kills} partitions={t.partitions} "
              f"collector_unplanned_exits={t.collector_unplanned_exits} "
              f"collector_stalled_starts={t.collector_stalled_starts}")
        print(f"good agents: batches_traced={produced} lost={lost} duplicated={duplicated} "
              f"undelivered_still_spooled={undelivered} untraced={untraced}")
        print(f"probe: batches_acked={len(self.probe.acked)} lost={probe_lost} duplicated={probe_dup} "
              f"ack_latency_ms p50={_pct(lat, 50)} p99={_pct(lat, 99)} max={_pct(lat, 100)}")
        print(f"quarantined={quarantined:g}")
        print(f"peak_collector_rss_mb={t.peak_rss / 2**20:.1f}")
        print(f"GET /api/v1/hosts at the end: {hosts_status}")
        total_hostile = sum(t.hostile.values())
        print(f"hostile streams: {total_hostile} ({total_hostile / (minutes * 60):.2f}/s)")
        for (kind, outcome), n in sorted(t.hostile.items()):
            print(f"  {kind:<18} {outcome:<22} {n}")
        ok = (lost == duplicated == probe_lost == probe_dup == undelivered == 0
              and t.collector_unplanned_exits == t.collector_stalled_starts == 0)
        print("verdict: " + ("good agents 0 lost, 0 duplicated; the collector never died or stalled" if ok else
                             "FAILED: see lost / duplicated / undelivered / unplanned_exits / stalled_starts"))
        print(f"soak_lost_batches={lost + probe_lost}")
        print(f"soak_undelivered_batches={undelivered}")
        print(f"soak_duplicated_batches={duplicated + probe_dup}")
        print(f"soak_quarantined_batches={quarantined:g}")
        print(f"soak_peak_collector_rss_mb={t.peak_rss / 2**20:.1f}")
        print(f"soak_ack_latency_p99_ms={_pct(lat, 99)}")
        return ok

    def close(self) -> None:
        for proxy in self.proxies:
            proxy.close()
        for agent in self.agents:
            with contextlib.suppress(AssertionError):
                agent.stop(signal.SIGKILL, timeout=10)
        self.collector.kill(signal.SIGTERM)


def stored_counts(db: sqlite3.Connection, host_id: str) -> Counter[int]:
    """seq -> how many times the collector's ingest log holds that sample batch of the host."""
    counts: Counter[int] = Counter()
    for (payload,) in db.execute("SELECT payload FROM ingest_log WHERE host_id = ?", (host_id,)):
        counts[logged_samples(payload).seq] += 1
    return counts


def _pct(values: list[float], p: float) -> str:
    if not values:
        return "n/a"
    return f"{values[min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1)]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=4, help="good agent processes (default 4)")
    parser.add_argument("--minutes", type=float, default=3, help="how long the chaos lasts (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="seed of every random choice (default: random)")
    parser.add_argument("--hostile-clients", type=int, default=2, help="concurrent hostile clients (default 2)")
    parser.add_argument("--hostile-kinds", default=",".join(HOSTILE),
                        help=f"comma-separated kinds of hostile stream (default: all of {', '.join(HOSTILE)})")
    parser.add_argument("--chaos-every", type=float, default=8, help="mean seconds between chaos events")
    parser.add_argument("--drain-timeout", type=float, default=90, help="seconds the end waits for spools to drain")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, store, spools)")
    parser.add_argument("--quick", action="store_true", help="2 agents for 30 s, chaos every 5 s, 30 s to drain")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.minutes, args.chaos_every, args.drain_timeout = 2, 0.5, 5, 30
    args.seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    args.hostile_kinds = [k for k in args.hostile_kinds.split(",") if k]
    unknown = sorted(set(args.hostile_kinds) - set(HOSTILE))
    if unknown or args.agents < 1 or args.minutes <= 0:
        parser.error(f"unknown hostile kinds {unknown} (known: {', '.join(HOSTILE)})" if unknown
                     else "--agents must be at least 1 and --minutes positive")
    print(f"seed={args.seed} (run again with --seed {args.seed} for the same choices)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="patrol-soak-"))
    print(f"working directory: {tmp}{'' if args.keep else ' (removed at the end; --keep keeps it)'}", flush=True)
    soak = Soak(tmp, args)
    try:
        soak.start()
        soak.chaos(args.minutes * 60)
        ok = soak.finish()
    finally:
        soak.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
