"""Routing diagnostic requests to hosts and their results back to engineers.

A request for a host with a live agent stream on this collector is signed and sent down that
stream; a host whose stream is on another live collector of the group is reached through the store
(:mod:`collector.diagnostics.relay`); a host polled over SSH runs the same allow-listed actions
through the SSH service; any other known host is answered at once as offline. Results arrive as
chunks (``on_result`` is the gRPC service's ``on_diagnostic_result``) and are kept, bounded, until
read. Everything lives on the collector's event loop; SSH actions and store access run on worker
threads and post back to it.

Every request is audited before it leaves, its end is audited with its outcome and bytes, and so
is every cancel and every result an agent sends for a request this collector is not waiting for
(a replayed or injected request shows up that way).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.diagnostics.audit import AuditStore
from collector.diagnostics.config import DiagnosticsSettings
from collector.diagnostics.relay import Relay
from collector.diagnostics.signing import Signer
from collector.server import AgentService
from protos.patrol.v1 import agent_pb2 as pb

log = logging.getLogger("patrol.diagnostics")

_ACTION = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ARG_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ARGS = 32
MAX_ARG_VALUE = 2048
CANCEL_GRACE = 5.0
# Chunks beyond the request's cap (plus one chunk of slack) are dropped: a misbehaving agent cannot
# make the collector hold more than it asked for.
SLACK_BYTES = 256 * 1024
FINISHED_STATUSES = frozenset({"ok", "denied", "timeout", "truncated", "error", "cancelled"})


class DiagError(Exception):
    """A request that could not be made; ``code`` is the HTTP status the API answers with."""

    code = 400


class UnknownHost(DiagError):
    code = 404


class AmbiguousHostName(DiagError):
    code = 409


class HostOffline(DiagError):
    code = 409


class TooBusy(DiagError):
    code = 429


class AuditUnavailable(DiagError):
    code = 503


class NotFound(DiagError):
    code = 404


@dataclass
class Pending:
    request_id: str
    host_id: str
    action: str
    args: dict[str, str]
    requested_by: str
    via: str  # agent | relay | ssh
    timeout_s: int
    max_output: int
    created_ms: int
    deadline: float  # monotonic; past it (plus grace) the collector stops waiting
    chunks: list[bytes] = field(default_factory=list)
    total_bytes: int = 0
    status: str | None = None  # None while running
    error: str = ""
    finished_at: float | None = None
    next_chunk: int = 0
    problems: list[str] = field(default_factory=list)
    cancel_by: str | None = None
    cancel_at: float | None = None
    disconnected_since: float | None = None
    ssh_stream: Any = None
    relay_after: int = 0  # the last relayed chunk row read from the store
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def summary(self, after: int = 0) -> dict[str, Any]:
        return {"request_id": self.request_id, "host": self.host_id, "action": self.action, "args": self.args,
                "requested_by": self.requested_by, "via": self.via, "timeout_s": self.timeout_s,
                "max_output": self.max_output, "created_ms": self.created_ms, "status": self.status or "running",
                "error": self.error, "total_bytes": self.total_bytes, "chunks_total": len(self.chunks),
                "chunks": [{"chunk": i, "data": base64.b64encode(c).decode()}
                           for i, c in enumerate(self.chunks) if i >= after],
                "cancelled_by": self.cancel_by}


@dataclass(frozen=True)
class HostLookup:
    """What the store knows of a host that is not connected here (for the 'offline' answer)."""

    host_id: str
    last_seen_ms: int
    connected: bool
    connected_to: str | None
    relay_to: str | None = None  # the live collector of the group that holds its stream
    stale_member: bool = False  # connected to a collector that stopped beating


class DiagnosticsRouter:
    def __init__(self, service: AgentService, signer: Signer, audit: AuditStore, settings: DiagnosticsSettings, *,
                 collector_id: str, find_host: Callable[[str], HostLookup | None],
                 ssh: Callable[[], Any] = lambda: None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, relay: Relay | None = None,
                 relay_poll: float = 0.5) -> None:
        self.service = service
        self.signer = signer
        self.audit = audit
        self.settings = settings
        self.collector_id = collector_id
        self.find_host = find_host
        self.ssh = ssh
        self.clock = clock
        self.monotonic = monotonic
        self.requests: dict[str, Pending] = {}
        self.relay = relay
        self.relay_poll = relay_poll
        self._relay_out: asyncio.Queue[tuple[str, pb.DiagnosticResult]] = asyncio.Queue()
        self._relay_tasks: list[asyncio.Task[None]] = []
        self._last_sweep = float("-inf")  # the monotonic clock counts from boot: sweep on the first pass
        self._tasks: set[asyncio.Future[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._watchdog = asyncio.create_task(self._watch(), name="diagnostics-watchdog")
        if self.relay is not None:
            self._relay_tasks = [asyncio.create_task(self._relay_loop(), name="diagnostics-relay"),
                                 asyncio.create_task(self._relay_writer(), name="diagnostics-relay-writer")]

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        for task in self._relay_tasks:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for p in self.running():
            if p.via == "relay" and self.relay is not None:
                await asyncio.to_thread(self.relay.cancel, p.request_id, "collector-stop")
            elif p.via == "agent":
                await self.service.send(p.host_id, pb.CollectorMessage(
                    diagnostic_cancel=pb.DiagnosticCancel(request_id=p.request_id)))
            elif p.ssh_stream is not None:
                p.ssh_stream.cancel()
            self._finish(p, "error", "the collector stopped before the request finished")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    def running(self, host_id: str | None = None) -> list[Pending]:
        return [p for p in self.requests.values() if p.status is None and (host_id is None or p.host_id == host_id)]

    # ------------------------------------------------------------------ requests

    def _validate(self, action: str, args: Mapping[str, str], timeout_s: float | None,
                  max_output: int | None) -> tuple[int, int]:
        if not _ACTION.match(action):
            raise DiagError(f"action {action!r} is not a valid action name (lower-case letters, digits, '_')")
        if len(args) > MAX_ARGS:
            raise DiagError(f"at most {MAX_ARGS} arguments")
        for k, v in args.items():
            if not _ARG_KEY.match(k) or not isinstance(v, str) or len(v) > MAX_ARG_VALUE or "\x00" in v:
                raise DiagError(f"argument {k!r}: names are lower-case identifiers, values text of at most "
                                f"{MAX_ARG_VALUE} characters")
        s = self.settings
        timeout = timeout_s if timeout_s is not None else s.default_timeout
        if not 1 <= timeout <= s.max_timeout:
            raise DiagError(f"timeout must be from 1 to {s.max_timeout:g} seconds")
        cap = max_output if max_output is not None else s.default_max_output
        if not 1 <= cap <= s.max_output:
            raise DiagError(f"max_output must be from 1 to {s.max_output} bytes")
        return int(timeout), int(cap)

    async def submit(self, host_ref: str, action: str, args: Mapping[str, str], requested_by: str, *,
                     timeout_s: float | None = None, max_output: int | None = None,
                     ttl_s: float | None = None) -> Pending:
        """Start a request; raises :class:`DiagError` (offline, unknown host, too busy, bad arguments)."""
        timeout, cap = self._validate(action, args, timeout_s, max_output)
        ttl = self.settings.request_ttl if ttl_s is None else ttl_s
        if not 1 <= ttl <= self.settings.request_ttl:
            raise DiagError(f"ttl must be from 1 to {self.settings.request_ttl:g} seconds")
        host_id, via, target = await self._route(host_ref, action, args, requested_by)
        if len(self.running(host_id)) >= self.settings.per_host:
            raise TooBusy(f"{host_id} already runs {self.settings.per_host} diagnostics; wait for one to finish or "
                          "cancel it")
        if len(self.running()) >= self.settings.max_pending:
            raise TooBusy(f"the collector already runs {self.settings.max_pending} diagnostics; retry shortly")
        now_ms = int(self.clock() * 1000)
        rid = uuid.uuid4().hex
        p = Pending(request_id=rid, host_id=host_id, action=action, args=dict(args), requested_by=requested_by,
                    via=via, timeout_s=timeout, max_output=cap, created_ms=now_ms,
                    deadline=self.monotonic() + timeout)
        try:
            await asyncio.to_thread(self.audit.record, "diag.request", actor=requested_by, request_id=rid,
                                    host_id=host_id, action=action, args=args, via=via,
                                    detail=f"timeout {timeout}s, max_output {cap} bytes")
        except Exception as e:
            log.error("event=diag_audit_failed request=%s error=%r", rid, e)
            raise AuditUnavailable("the audit log cannot be written, so the request was not sent; "
                                   "check the collector's store") from None
        self.requests[rid] = p
        log.info("event=diag_request request=%s host=%s action=%s by=%s via=%s", rid, host_id, action,
                 requested_by, via)
        if via == "ssh":
            self._start_ssh(p)
            return p
        req = pb.DiagnosticRequest(request_id=rid, action=action, args=dict(args), requested_by=requested_by,
                                   expires_ms=now_ms + int(ttl * 1000), nonce=secrets.token_urlsafe(24),
                                   timeout_s=timeout, max_output_bytes=cap)
        self.signer.sign(req, host_id)
        if via == "relay":
            assert self.relay is not None and target is not None
            try:
                await asyncio.to_thread(self.relay.post, req, host_id, target, now_ms)
            except Exception as e:
                log.error("event=diag_relay_failed request=%s error=%r", rid, e)
                self._finish(p, "error", f"could not relay the request to collector {target} through the store")
            return p
        if not await self.service.send(host_id, pb.CollectorMessage(diagnostic_request=req)):
            self._finish(p, "error", "the agent disconnected before the request could be sent")
        return p

    async def _route(self, ref: str, action: str, args: Mapping[str, str],
                     actor: str) -> tuple[str, str, str | None]:
        """``(host_id, via, target collector of a relay)``; raises for unknown and offline hosts."""
        poller = self.ssh()
        if poller is not None and ref in poller.targets:
            return ref, "ssh", None
        found = await asyncio.to_thread(self.find_host, ref)
        if found is None:
            if ref in self.service.sessions:  # connected a moment ago, not in the store yet
                return ref, "agent", None
            raise UnknownHost(f"unknown host {ref!r}: see 'patrol hosts' for the known ones")
        host_id = found.host_id
        # The store has the newest connection of the group: a stream still open here may be the
        # half-dead one the agent left when it reconnected to another collector.
        if found.relay_to and self.relay is not None:
            return host_id, "relay", found.relay_to
        if host_id in self.service.sessions:
            return host_id, "agent", None
        if poller is not None and host_id in poller.targets:
            return host_id, "ssh", None
        if found.connected and found.connected_to and found.connected_to != self.collector_id:
            where = (f"its agent was connected to collector {found.connected_to}, which stopped answering"
                     if found.stale_member else
                     f"its agent is connected to collector {found.connected_to}; send the request there")
        else:
            seen = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(found.last_seen_ms / 1000))
            where = f"its agent is not connected (last seen {seen})"
        try:
            await asyncio.to_thread(self.audit.record, "diag.request", actor=actor, host_id=host_id, action=action,
                                    args=args, outcome="offline", nbytes=0, detail=where)
        except Exception as e:
            log.error("event=diag_audit_failed host=%s error=%r", host_id, e)
        raise HostOffline(f"host {host_id} is offline: {where}")

    # ------------------------------------------------------------------ results

    def on_result(self, host_id: str, result: pb.DiagnosticResult) -> None:
        """The gRPC service's ``on_diagnostic_result`` (runs on the event loop)."""
        p = self.requests.get(result.request_id)
        if p is None and self.relay is not None:
            # Perhaps relayed through the store by another collector: the writer looks it up there.
            self._relay_out.put_nowait((host_id, result))
            return
        if p is None or p.host_id != host_id or p.via != "agent" or p.status is not None:
            if result.final:
                self._unsolicited(host_id, result, p)
            return
        self._apply(p, result)

    def _apply(self, p: Pending, result: pb.DiagnosticResult) -> None:
        if result.chunk != p.next_chunk:
            p.problems.append(f"chunk {result.chunk} arrived where {p.next_chunk} was expected (lost chunks)")
        p.next_chunk = result.chunk + 1
        self._append(p, result.data)
        if result.final:
            status = result.status if result.status in FINISHED_STATUSES else "error"
            error = result.error or ("" if result.status in FINISHED_STATUSES
                                     else f"the agent answered with an unknown status {result.status!r}")
            if result.total_bytes != p.total_bytes and status != "error":
                p.problems.append(f"the agent sent {result.total_bytes} bytes, {p.total_bytes} arrived")
            self._finish(p, status, error)
        else:
            p.notify()

    def _append(self, p: Pending, data: bytes) -> None:
        if not data:
            return
        room = p.max_output + SLACK_BYTES - p.total_bytes
        if room <= 0:
            return
        if len(data) > room:
            data = data[:room]
            p.problems.append("the agent sent more than the cap; the excess was dropped")
        p.chunks.append(data)
        p.total_bytes += len(data)

    def _unsolicited(self, host_id: str, result: pb.DiagnosticResult, p: Pending | None) -> None:
        known = p is not None and p.host_id == host_id
        if known:
            assert p is not None
            why = f"after the request had already ended ({p.status})"
        else:
            why = "for a request this collector is not waiting for"
        log.warning("event=diag_unsolicited_result host=%s request=%s status=%s error=%r", host_id,
                    result.request_id, result.status, result.error)
        self._record("diag.unsolicited", actor=f"agent:{host_id}", request_id=result.request_id[:64],
                     host_id=host_id, action=p.action if known and p else None,
                     args=p.args if known and p else None, outcome=(result.status or "error")[:16],
                     nbytes=result.total_bytes, via="agent",
                     detail=f"the agent answered {why}: {result.error or result.status}")

    def _finish(self, p: Pending, status: str, error: str) -> None:
        if p.status is not None:
            return
        p.status = status
        p.error = error
        p.finished_at = self.monotonic()
        detail = "; ".join([x for x in [error, *p.problems] if x])
        log.info("event=diag_finished request=%s host=%s action=%s status=%s bytes=%d", p.request_id, p.host_id,
                 p.action, status, p.total_bytes)
        if p.via == "relay" and self.relay is not None:
            task = asyncio.ensure_future(asyncio.to_thread(self.relay.forget, p.request_id))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        self._record("diag.result", actor=p.requested_by, request_id=p.request_id, host_id=p.host_id,
                     action=p.action, args=p.args, outcome=status, nbytes=p.total_bytes, via=p.via, detail=detail)
        p.notify()

    def _record(self, event: str, **fields: Any) -> None:
        task = asyncio.ensure_future(asyncio.to_thread(self.audit.record, event, **fields))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event=diag_task_failed error=%r", task.exception())

    # ------------------------------------------------------------------ cancel

    async def cancel(self, request_id: str, actor: str) -> Pending:
        p = self.requests.get(request_id)
        if p is None:
            raise NotFound(f"no diagnostic request {request_id} on this collector (finished ones are kept "
                           f"{self.settings.keep_finished:g} s)")
        if p.status is not None or p.cancel_by is not None:
            return p
        p.cancel_by, p.cancel_at = actor, self.monotonic()
        self._record("diag.cancel", actor=actor, request_id=p.request_id, host_id=p.host_id, action=p.action,
                     args=p.args, via=p.via)
        log.info("event=diag_cancel request=%s host=%s by=%s", request_id, p.host_id, actor)
        if p.via == "ssh":
            if p.ssh_stream is not None:
                p.ssh_stream.cancel()
        elif p.via == "relay" and self.relay is not None:
            await asyncio.to_thread(self.relay.cancel, request_id, actor)
        elif not await self.service.send(p.host_id, pb.CollectorMessage(
                diagnostic_cancel=pb.DiagnosticCancel(request_id=request_id))):
            self._finish(p, "cancelled", f"cancelled by {actor}; the agent is not connected, so it stops only at "
                                         "its own timeout")
        p.notify()
        return p

    def cancel_soon(self, request_id: str, actor: str) -> None:
        """:meth:`cancel` without waiting (from places that cannot await, such as a closing stream)."""
        task = asyncio.ensure_future(self.cancel(request_id, actor))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    # ------------------------------------------------------------------ reading

    def get(self, request_id: str) -> Pending:
        p = self.requests.get(request_id)
        if p is None:
            raise NotFound(f"no diagnostic request {request_id} on this collector (finished ones are kept "
                           f"{self.settings.keep_finished:g} s)")
        return p

    async def follow(self, p: Pending, after: int = 0, keepalive: float = 5.0) -> AsyncIterator[dict[str, Any]]:
        """Chunks from index ``after`` as they arrive, then the final summary; ``wait`` lines while idle."""
        i = after
        while True:
            while i < len(p.chunks):
                yield {"type": "chunk", "chunk": i, "data": base64.b64encode(p.chunks[i]).decode()}
                i += 1
            if p.status is not None:
                yield {"type": "final", "request_id": p.request_id, "status": p.status, "error": p.error,
                       "total_bytes": p.total_bytes, "cancelled_by": p.cancel_by}
                return
            changed = p.changed
            try:
                await asyncio.wait_for(changed.wait(), keepalive)
            except TimeoutError:
                yield {"type": "wait", "request_id": p.request_id}

    # ------------------------------------------------------------------ SSH hosts

    def _start_ssh(self, p: Pending) -> None:
        from collector.ssh import ActionDenied

        poller = self.ssh()
        try:
            p.ssh_stream = poller.run_action(p.host_id, p.action, p.args, timeout=p.timeout_s,
                                             max_output=p.max_output)
        except (ActionDenied, KeyError) as e:
            self._finish(p, "denied", str(e).strip("'\""))
            return
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, self._pump_ssh, p, loop)
        self._tasks.add(fut)
        fut.add_done_callback(self._tasks.discard)

    def _pump_ssh(self, p: Pending, loop: asyncio.AbstractEventLoop) -> None:
        stream = p.ssh_stream
        try:
            for data in stream:
                loop.call_soon_threadsafe(self._ssh_chunk, p, data)
            status, error = stream.status, stream.error or ""
        except Exception as e:
            log.exception("event=diag_ssh_failed request=%s", p.request_id)
            status, error = "error", f"SSH action failed: {e}"
        loop.call_soon_threadsafe(self._finish, p, status if status in FINISHED_STATUSES else "error", error)

    def _ssh_chunk(self, p: Pending, data: bytes) -> None:
        if p.status is None:
            self._append(p, data)
            p.notify()

    # ------------------------------------------------------------------ the watchdog

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self.tick()
            except Exception:
                log.exception("event=diag_watchdog_failed")

    def tick(self) -> None:
        """Give up on requests whose agent went silent; forget finished ones after a while."""
        now = self.monotonic()
        s = self.settings
        for p in self.running():
            if p.cancel_at is not None and now - p.cancel_at > CANCEL_GRACE:
                self._finish(p, "cancelled", f"cancelled by {p.cancel_by}; the host did not confirm within "
                                             f"{CANCEL_GRACE:g} s")
            elif now > p.deadline + s.answer_grace:
                self._finish(p, "error", f"no final answer within the timeout ({p.timeout_s} s) plus "
                                         f"{s.answer_grace:g} s")
            elif p.via == "agent":
                if p.host_id in self.service.sessions:
                    p.disconnected_since = None
                elif p.disconnected_since is None:
                    p.disconnected_since = now
                elif now - p.disconnected_since > s.disconnect_grace:
                    self._finish(p, "error", f"the agent disconnected and did not come back within "
                                             f"{s.disconnect_grace:g} s")
        for rid, p in list(self.requests.items()):
            if p.finished_at is not None and now - p.finished_at > s.keep_finished:
                del self.requests[rid]

    # ------------------------------------------------------------------ relaying through the store

    async def _relay_loop(self) -> None:
        while True:
            await asyncio.sleep(self.relay_poll)
            try:
                await self.relay_round()
            except Exception:
                log.exception("event=diag_relay_round_failed")

    async def relay_round(self) -> None:
        """Send requests other collectors posted for agents here; read results of requests relayed from here."""
        relay = self.relay
        assert relay is not None
        for posted in await asyncio.to_thread(relay.take):
            sent = posted.host_id in self.service.sessions and await self.service.send(
                posted.host_id, pb.CollectorMessage(diagnostic_request=posted.request))
            log.info("event=diag_relayed request=%s host=%s origin=%s sent=%s", posted.request_id, posted.host_id,
                     posted.origin, sent)
            if not sent:
                self._relay_out.put_nowait((posted.host_id, pb.DiagnosticResult(
                    request_id=posted.request_id, final=True, status="error",
                    error=f"the agent is no longer connected to collector {self.collector_id}")))
        for rid, host_id, actor in await asyncio.to_thread(relay.cancels):
            await self.service.send(host_id, pb.CollectorMessage(diagnostic_cancel=pb.DiagnosticCancel(request_id=rid)))
            log.info("event=diag_relayed_cancel request=%s host=%s by=%s", rid, host_id, actor)
        waiting = {p.request_id: p.relay_after for p in self.running() if p.via == "relay"}
        for item in await asyncio.to_thread(relay.results, waiting):
            p = self.requests.get(item.request_id)
            if p is None or p.status is not None or item.row_id <= p.relay_after:
                continue
            p.relay_after = item.row_id
            self._apply(p, item.result)
        if self.monotonic() - self._last_sweep > 3600:
            self._last_sweep = self.monotonic()
            await asyncio.to_thread(relay.sweep, int(self.clock() * 1000))

    async def _relay_writer(self) -> None:
        """Write results for relayed requests in the order they arrived (one writer keeps chunks in order)."""
        relay = self.relay
        assert relay is not None
        while True:
            host_id, result = await self._relay_out.get()
            try:
                stored = await asyncio.to_thread(relay.put, host_id, result)
            except Exception:
                log.exception("event=diag_relay_write_failed request=%s", result.request_id)
                continue
            if not stored and result.final:
                self._unsolicited(host_id, result, None)
