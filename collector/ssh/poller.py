"""The SSH inspection service: polls each target on its interval (job ``ssh-poll:<host>``) and feeds
the ingest path.

Each poll runs the fixed command set over the target's pooled connection, turns the output into
the agent's series and facts (:mod:`collector.ssh.sampler`) and submits them to ``app.ingestor``
exactly as the gRPC server does for an agent: a ``HostUpdate`` (``source="ssh"``) and a
``Samples`` batch keyed by (host id, epoch ``"ssh"``, seq). The seq is the poll time in
milliseconds, raised above the stored high-water mark when the clock steps back, so dedup never
drops a poll and a restart continues where the store left off.

Every poll also writes ``probe.ssh_up`` and ``host.up`` (1/0), ``probe.ssh_hostkey_ok`` (1/0 when
the host key was checked), and the target's state row (:mod:`collector.ssh.state`), which keeps
the last error. A failed poll does not move the host's ``last_seen``: that stays at the last
successful poll, so heartbeat and availability checks see an unreachable SSH host like a silent
agent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from agent.batch import BatchBuilder
from agent.configfile import ConfigError
from agent.model import Sample
from collector.ingest import Batch, HostUpdate, Outcome
from collector.scheduler import Every, JobSpec
from collector.server import facts_to_dict
from collector.ssh.actions import ActionStream, run_action
from collector.ssh.client import (
    AuthFailed,
    CommandResult,
    HostKeyChanged,
    HostKeyUnknown,
    SessionLost,
    SshConnection,
    SshError,
    SshPool,
    fingerprint,
)
from collector.ssh.commands import POLL_COMMANDS, Command
from collector.ssh.config import SshConfig, SshTarget
from collector.ssh.sampler import TargetSampler
from collector.ssh.state import OK, TargetStatus, first_status, load_statuses, save_status
from collector.store.schema import agent_streams, hosts
from protos.patrol.v1 import agent_pb2 as pb

if TYPE_CHECKING:
    from collector.app import CollectorApp
    from collector.ingest import Ingestor

log = logging.getLogger("patrol.ssh")

EPOCH = "ssh"
SUBMIT_TIMEOUT_S = 30.0


@dataclass
class PollReport:
    """What one poll did (returned to tests and logged)."""

    host_id: str
    state: str
    error: str | None = None
    samples: int = 0
    facts: bool = False
    problems: list[str] = field(default_factory=list)
    reconnected: bool = False
    seq: int = 0


class SshPoller:
    """The ``ssh`` collector service. :meth:`poll` does one poll synchronously (thread-safe per target)."""

    name = "ssh"

    def __init__(self, cfg: SshConfig, *, engine: Engine, ingestor: Ingestor, collector_id: str,
                 clock: Callable[[], float] = time.time, pool: SshPool | None = None,
                 lease_token: Callable[[], object] = lambda: None) -> None:
        self.cfg = cfg
        # In a collector group only the lease holder polls (the job scheduler sees to that); a new
        # holder first reloads the sequence numbers its predecessor advanced, which it notices by
        # the lease's fencing token changing.
        self.lease_token = lease_token
        self._loaded_token: object = None
        self.engine = engine
        self.ingestor = ingestor
        self.collector_id = collector_id
        self.clock = clock
        self.pool = pool or SshPool()
        self.targets: dict[str, SshTarget] = {t.host_id: t for t in cfg.targets}
        self._samplers: dict[str, TargetSampler] = {t: TargetSampler() for t in self.targets}
        self._statuses: dict[str, TargetStatus] = {}
        self._hostnames: dict[str, str] = {}
        self._seq: dict[str, int] = {}
        self._facts_at: dict[str, float] = {}
        self._busy: dict[str, threading.Lock] = {t: threading.Lock() for t in self.targets}
        self._guard = threading.Lock()
        self._loaded = False
        self._stopping = False
        self.stats = {"polls": 0, "failures": 0, "batches_failed": 0}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loaded_token = self.lease_token()
        await asyncio.get_running_loop().run_in_executor(None, self.load)
        log.info("event=ssh_started targets=%d concurrency=%d", len(self.targets), self.cfg.max_concurrency)

    async def stop(self) -> None:
        # The job scheduler has stopped before the services; closing the connections also wakes
        # any poll still blocked on the network.
        self._stopping = True
        self.pool.close_all()

    def load(self) -> None:
        """Read the targets' states, stream high-water marks and hostnames from the store."""
        ids = list(self.targets)
        with self.engine.connect() as conn:
            statuses = load_statuses(conn, ids)
            seqs = dict(conn.execute(select(agent_streams.c.host_id, agent_streams.c.last_seq).where(
                agent_streams.c.host_id.in_(ids), agent_streams.c.epoch == EPOCH)).all())
            names = dict(conn.execute(select(hosts.c.id, hosts.c.hostname).where(hosts.c.id.in_(ids))).all())
        with self._guard:
            self._statuses.update(statuses)
            for host_id, seq in seqs.items():
                self._seq[host_id] = max(self._seq.get(host_id, 0), int(seq))
            self._hostnames.update({k: v for k, v in names.items() if v})
            self._loaded = True

    def start_delay(self, target: SshTarget) -> float:
        """A stable offset per host spreads the first polls without making restarts random."""
        spread = min(self.cfg.startup_spread, target.interval)
        return spread * (zlib.crc32(target.host_id.encode()) % 1000) / 1000

    def scheduled_poll(self, target: SshTarget) -> PollReport | None:
        """One poll of ``target`` as its job runs it, on a thread of the SSH job pool.

        A paramiko call can wait without a timeout of its own; past :meth:`hard_limit` a watchdog
        closes the target's connection, which wakes it.
        """
        if self._stopping:
            return None
        token = self.lease_token()
        if token != self._loaded_token:
            self.load()
            self._loaded_token = token
        watchdog = threading.Timer(self.hard_limit(target), self._overrun, args=(target,))
        watchdog.daemon = True
        watchdog.start()
        try:
            return self.poll(target)
        finally:
            watchdog.cancel()

    def _overrun(self, target: SshTarget) -> None:
        log.warning("event=ssh_poll_overrun host=%s limit_s=%.0f", target.host_id, self.hard_limit(target))
        self.pool.discard(target.host_id)

    def poll_budget(self, target: SshTarget) -> float:
        """Seconds the commands of one poll may take together."""
        return max(target.command_timeout, min(target.interval * 0.9, 300.0))

    def hard_limit(self, target: SshTarget) -> float:
        return self.poll_budget(target) + 2 * target.timeout + 10.0

    # ------------------------------------------------------------------ one poll

    def poll(self, target: SshTarget) -> PollReport | None:
        """Poll ``target`` now and submit the results; None if a poll of it is already running."""
        if not self._loaded:
            self.load()
        busy = self._busy.setdefault(target.host_id, threading.Lock())
        if not busy.acquire(blocking=False):
            log.warning("event=ssh_poll_skipped host=%s reason=previous poll still running", target.host_id)
            return None
        try:
            return self._poll(target)
        finally:
            busy.release()

    def _poll(self, target: SshTarget) -> PollReport:
        now = self.clock()
        at_ms = int(now * 1000)
        self.stats["polls"] += 1
        sampler = self._samplers.setdefault(target.host_id, TargetSampler())
        reconnected = False
        conn: SshConnection | None = None
        try:
            try:
                conn, fresh = self.pool.get(target)
                results = self._run_commands(conn, target, fresh)
            except SessionLost:
                # A pooled connection that died since the last poll, or a new one to an sshd that is just
                # restarting and drops it (also while the dial itself still runs its first command):
                # dial once more before giving up.
                if conn is not None:  # a dial that failed left nothing in the pool
                    self.pool.discard(target.host_id, conn)
                conn, fresh = self.pool.get(target)
                reconnected = True
                results = self._run_commands(conn, target, fresh)
        except SshError as e:
            return self._failed(target, e, at_ms)
        output = sampler.sample(results, now)
        if any(r.timed_out for r in results.values()):
            # The connection may be what is slow; start the next poll on a fresh one.
            self.pool.discard(target.host_id, conn)
        host_key = fingerprint(conn.host_key) if conn.host_key is not None else None
        probes = [Sample("probe.ssh_up", 1.0), Sample("host.up", 1.0), Sample("probe.ssh_hostkey_ok", 1.0)]
        hostname = output.hostname or self._hostnames.get(target.host_id) or target.host_id
        self._hostnames[target.host_id] = hostname
        self._submit_host(target, hostname, at_ms, connected=True, facts=output.facts)
        seq = self._submit_samples(target, at_ms, output.samples + probes)
        status = self._status(target, at_ms).after(state=OK, at_ms=at_ms, host_key=host_key,
                                                   problems=output.problems, endpoint=_endpoint(target))
        self._save(status)
        if output.problems:
            log.info("event=ssh_poll_partial host=%s problems=%r", target.host_id, output.problems)
        return PollReport(target.host_id, OK, samples=len(output.samples) + len(probes),
                          facts=output.facts is not None, problems=output.problems, reconnected=reconnected, seq=seq)

    def _run_commands(self, conn: SshConnection, target: SshTarget, fresh: bool) -> dict[str, CommandResult]:
        facts_due = fresh or time.monotonic() - self._facts_at.get(target.host_id, float("-inf")) >= \
            self.cfg.facts_interval
        deadline = time.monotonic() + self.poll_budget(target)
        commands = [c for c in POLL_COMMANDS if facts_due or not c.facts_only]
        # A few channels at once: each command costs round trips and a remote shell start, which
        # on a distant host dominates the poll. sshd allows 10 sessions per connection by default.
        with concurrent.futures.ThreadPoolExecutor(target.sessions, thread_name_prefix="patrol-ssh-cmd") as ex:
            futures = {c.name: ex.submit(self._run_one, conn, target, c, deadline) for c in commands}
            results = {name: fut.result() for name, fut in futures.items()}
        if facts_due:
            self._facts_at[target.host_id] = time.monotonic()
        return results

    @staticmethod
    def _run_one(conn: SshConnection, target: SshTarget, command: Command, deadline: float) -> CommandResult:
        cap = command.max_output or target.max_output
        result = CommandResult(command.argv, None, error="skipped: the poll ran out of time")
        for argv in command.alternatives:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return result
            result = conn.run(argv, min(target.command_timeout, remaining), cap)
            if not _wants_fallback(result, command):
                return result
        return result

    def _failed(self, target: SshTarget, error: SshError, at_ms: int) -> PollReport:
        if self._stopping:
            # stop() closed the connection under this poll: the host is fine, the collector is leaving.
            return PollReport(target.host_id, "cancelled", error="the collector is stopping")
        self.stats["failures"] += 1
        status = self._status(target, at_ms)
        text = str(error)
        if status.state != error.state or status.last_error != text:
            log.warning("event=ssh_poll_failed host=%s state=%s error=%r", target.host_id, error.state, text)
        probes = [Sample("probe.ssh_up", 0.0), Sample("host.up", 0.0)]
        if isinstance(error, HostKeyChanged | HostKeyUnknown):
            probes.append(Sample("probe.ssh_hostkey_ok", 0.0))
        elif isinstance(error, AuthFailed):
            probes.append(Sample("probe.ssh_hostkey_ok", 1.0))  # paramiko checks the key before authenticating
        hostname = self._hostnames.get(target.host_id) or target.host_id
        # last_seen stays at the last successful poll (or the first attempt, for a host never reached).
        self._submit_host(target, hostname, status.last_ok_ms or status.first_attempt_ms, connected=False)
        seq = self._submit_samples(target, at_ms, probes)
        self._save(status.after(state=error.state, at_ms=at_ms, error=text, endpoint=_endpoint(target)))
        return PollReport(target.host_id, error.state, error=text, samples=len(probes), seq=seq)

    # ------------------------------------------------------------------ ingest

    def _submit_host(self, target: SshTarget, hostname: str, seen_ms: int, *, connected: bool,
                     facts: pb.Facts | None = None) -> None:
        self._submit(HostUpdate(
            host_id=target.host_id, customer_id=target.customer, hostname=hostname, source="ssh",
            labels=dict(target.labels), facts=facts_to_dict(facts) if facts is not None else None,
            connected=connected, connected_to=self.collector_id, seen_ms=seen_ms))

    def _submit_samples(self, target: SshTarget, at_ms: int, samples: list[Sample]) -> int:
        with self._guard:
            seq = max(at_ms, self._seq.get(target.host_id, 0) + 1)
            self._seq[target.host_id] = seq
        builder = BatchBuilder()
        builder.add(at_ms, samples)
        batch = pb.Samples(seq=seq, series=builder.take())
        host_id = target.host_id

        def done(outcome: Outcome) -> None:
            if outcome is Outcome.FAILED:
                self.stats["batches_failed"] += 1
                log.warning("event=ssh_batch_not_stored host=%s seq=%d reason=store unavailable", host_id, seq)

        self._submit(Batch(host_id=host_id, epoch=EPOCH, seq=seq, done=done, samples=batch))
        return seq

    def _submit(self, item: Batch | HostUpdate) -> None:
        if self._stopping:
            return
        try:
            self.ingestor.submit(item, timeout=SUBMIT_TIMEOUT_S)
        except Exception as e:  # queue.Full after the timeout: the store is far behind
            log.warning("event=ssh_submit_dropped host=%s reason=%r", item.host_id, e)

    # ------------------------------------------------------------------ state

    def _status(self, target: SshTarget, at_ms: int) -> TargetStatus:
        with self._guard:
            status = self._statuses.get(target.host_id)
        if status is None:
            return first_status(target.host_id, target.customer, _endpoint(target), self.collector_id, at_ms)
        if status.customer_id != target.customer:  # the target was moved to another customer
            status = replace(status, customer_id=target.customer)
        return status

    def _save(self, status: TargetStatus) -> None:
        with self._guard:
            self._statuses[status.host_id] = status
        try:
            save_status(self.engine, status)
        except Exception:
            log.exception("event=ssh_state_not_saved host=%s", status.host_id)

    def statuses(self) -> dict[str, TargetStatus]:
        with self._guard:
            return dict(self._statuses)

    # ------------------------------------------------------------------ diagnostics

    def run_action(self, host_id: str, action: str, args: Mapping[str, str], *, timeout: float | None = None,
                   max_output: int | None = None) -> ActionStream:
        """Start an allow-listed read-only diagnostic on an SSH target; see :mod:`collector.ssh.actions`."""
        target = self.targets.get(host_id)
        if target is None:
            raise KeyError(f"{host_id!r} is not an SSH target of this collector")
        return run_action(self.pool, target, action, args, timeout=timeout, max_output=max_output)


def _wants_fallback(result: CommandResult, command: Command) -> bool:
    if result.timed_out or result.error is not None:
        return False  # a fallback would wait just as long
    if result.truncated:
        return command.needs_complete
    if result.exit_status in (126, 127):  # not executable, not found
        return True
    return result.exit_status != 0 and not result.stdout.strip()


def _endpoint(target: SshTarget) -> str:
    return f"{target.user}@{target.endpoint}"


def ssh_service(app: CollectorApp) -> SshPoller | None:
    """The service factory (declared in ``collector/ssh/feature.py``): None when no SSH target is configured."""
    cfg: SshConfig = app.cfg.section("ssh")
    if not cfg.targets:
        return None
    unknown = sorted({t.customer for t in cfg.targets if app.cfg.customer(t.customer) is None})
    if unknown:
        known = sorted(c.id for c in app.cfg.customers)
        raise ConfigError(f"ssh.targets: unknown customer(s) {', '.join(unknown)}; the configuration defines {known}")
    return SshPoller(cfg, engine=app.engine, ingestor=app.ingestor, collector_id=app.collector_id, clock=app.clock,
                     lease_token=lambda: app.cluster.token)


def jobs(poller: SshPoller) -> list[JobSpec]:
    """One job per target, at the target's interval, on a pool of ``ssh.max_concurrency`` threads."""
    return [JobSpec(f"ssh-poll:{target.host_id}", f"SSH poll of {target.host_id}",
                    functools.partial(poller.scheduled_poll, target), Every(target.interval),
                    start_delay=poller.start_delay(target), pool=("ssh", poller.cfg.max_concurrency),
                    configurable=False)
            for target in poller.targets.values()]


def find_poller(app: Any) -> SshPoller | None:
    """The running SSH service of a collector, for diagnostics routing."""
    from collector.services import find_service

    return find_service(app, SshPoller)
