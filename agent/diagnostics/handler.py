"""Where diagnostic requests arrive on the agent: verify, check the local consent, audit, run.

:meth:`DiagnosticsHandler.handle` is the transport's ``on_message`` callback and must not block the
stream, so requests are queued to one intake thread. There each request is, in order, verified
(signature against the pinned key, expiry, replay), checked against this host's config, written to
the local audit log, and only then started. Anything refused gets a final ``denied`` answer and a
``refused`` audit line; a request that ran gets ``started`` and ``finished`` lines.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.diagnostics.audit import AuditLog
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import AgentRuntime, Denied
from agent.diagnostics.executor import Executor, Job, Outcome
from agent.diagnostics.verify import NonceCache, PinnedKey, Refusal, RequestVerifier
from protos.patrol.v1 import agent_pb2 as pb

if TYPE_CHECKING:
    from agent.diagnostics.actions import Prepared
    from agent.runner import Agent

log = logging.getLogger("patrol.agent.diagnostics")

# Refusals decided before the signature was checked: the request's fields are only claims.
_UNVERIFIED = {"disabled", "malformed", "bad_signature"}


@dataclass(frozen=True)
class _Cancel:
    request_id: str
    found: bool


class DiagnosticsHandler:
    def __init__(self, cfg: DiagnosticsConfig, runtime: AgentRuntime, send: Callable[[pb.AgentMessage], bool], *,
                 spool_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.runtime = runtime
        self.clock = clock
        self.audit = AuditLog(cfg.resolved_audit_log(spool_dir), clock)
        self.verifier: RequestVerifier | None = None
        self.disabled_reason: str | None = None
        if not cfg.enabled:
            self.disabled_reason = "remote diagnostics are switched off on this host (diagnostics.enabled: false)"
        elif cfg.collector_key is None:
            self.disabled_reason = ("remote diagnostics are not set up on this host: no collector key is pinned "
                                    "(diagnostics.collector_key in agent.yaml; `patrol diag-key` prints the key)")
        else:
            nonces = NonceCache(cfg.resolved_state_dir(spool_dir) / "nonces.json")
            self.verifier = RequestVerifier(PinnedKey(cfg.collector_key), runtime.agent_id, nonces,
                                            clock_skew_s=cfg.clock_skew, max_request_age_s=cfg.max_request_age,
                                            clock=clock)
        self.executor = Executor(runtime, lambda r: send(pb.AgentMessage(diagnostic_result=r)),
                                 chunk_bytes=cfg.chunk_bytes, max_concurrent=cfg.max_concurrent)
        self._inbox: queue.Queue[pb.DiagnosticRequest | _Cancel | None] = queue.Queue(maxsize=256)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_agent(cls, agent: Agent) -> DiagnosticsHandler:
        """The handler of a running agent; results go out on ``agent.transport`` (bound late)."""
        runtime = AgentRuntime(agent.agent_id, agent.cfg, agent.spool.stats, time.time())
        return cls(agent.cfg.diagnostics, runtime, lambda m: agent.transport.send(m), spool_dir=agent.cfg.spool.dir,
                   clock=agent.clock)

    # ------------------------------------------------------------------ the transport's side

    def handle(self, msg: pb.CollectorMessage) -> None:
        """Called on the transport thread for every downstream message that is not an ack."""
        kind = msg.WhichOneof("payload")
        if kind == "diagnostic_request":
            self._enqueue(msg.diagnostic_request)
        elif kind == "diagnostic_cancel":
            rid = msg.diagnostic_cancel.request_id
            found = self.executor.cancel(rid)
            log.info("event=diag_cancel request=%s running=%s", rid, found)
            self._enqueue(_Cancel(rid, found))
        else:
            log.debug("event=downstream_ignored kind=%s", kind)

    def _enqueue(self, item: pb.DiagnosticRequest | _Cancel) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._intake, name="patrol-diag-intake", daemon=True)
                self._thread.start()
        try:
            self._inbox.put_nowait(item)
        except queue.Full:
            # Only a flood gets here; answering would block the stream, and the collector times out anyway.
            log.warning("event=diag_inbox_full dropped=%s", type(item).__name__)

    def close(self, timeout: float = 5.0) -> None:
        """Stop running actions (their final chunks say so) and the intake thread."""
        self.executor.close(timeout)
        if self._thread is not None:
            try:
                self._inbox.put(None, timeout=1)
            except queue.Full:
                return
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the intake thread

    def _intake(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                if isinstance(item, _Cancel):
                    self._audit("cancel", request_id=item.request_id, running=item.found)
                else:
                    self.process(item)
            except Exception:
                log.exception("event=diag_intake_failed")

    def process(self, req: pb.DiagnosticRequest) -> None:
        """Verify, authorise, audit and start one request (synchronously up to the start)."""
        claims = _claims(req)
        try:
            prepared = self._authorise(req)
        except Refusal as r:
            self._refuse(req, claims, r.reason, r.message, status="denied")
            return
        if len(self.executor.running()) >= self.cfg.max_concurrent:
            self._refuse(req, claims, "busy", f"this host is already running {self.cfg.max_concurrent} diagnostics "
                                              "(diagnostics.max_concurrent); retry when they finish", status="error")
            return
        timeout = min(float(req.timeout_s) or self.cfg.default_timeout, self.cfg.max_timeout,
                      prepared.timeout or math.inf)
        max_output = int(min(req.max_output_bytes or self.cfg.default_max_output, self.cfg.max_output,
                             prepared.max_output or math.inf))
        try:
            self.audit.record("started", **claims, verified=True, timeout_s=timeout, max_output=max_output)
        except OSError as e:
            log.error("event=diag_audit_unwritable path=%s error=%r", self.audit.path, e)
            self.executor.reply(req.request_id, "denied", f"refused: the agent cannot write its audit log "
                                                          f"{self.audit.path} ({e.strerror or e})")
            return
        log.info("event=diag_start request=%s action=%s by=%s timeout_s=%g max_output=%d", req.request_id,
                 req.action, req.requested_by, timeout, max_output)
        job = Job(req.request_id, req.action, prepared, timeout, max_output)
        if not self.executor.start(job, lambda outcome: self._finished(claims, outcome)):
            self._audit("finished", **claims, outcome="error", bytes=0, error="could not start (duplicate id)")
            self.executor.reply(req.request_id, "error", "a request with this id is already running")

    def _authorise(self, req: pb.DiagnosticRequest) -> Prepared:
        if self.disabled_reason is not None or self.verifier is None:
            raise Refusal("disabled", self.disabled_reason or "diagnostics are not set up on this host")
        self.verifier.verify(req)
        # The actions (and what they import) load with the first verified request, not with every
        # agent: most agents never run one.
        from agent.diagnostics import actions

        try:
            return actions.prepare(req.action, dict(req.args), self.cfg)
        except Denied as e:
            raise Refusal("not_allowed", str(e)) from None

    def _refuse(self, req: pb.DiagnosticRequest, claims: dict[str, Any], reason: str, message: str,
                status: str) -> None:
        log.warning("event=diag_refused request=%s action=%s by=%s reason=%s", claims["request_id"],
                    claims["action"], claims["requested_by"], reason)
        self._audit("refused", **claims, verified=reason not in _UNVERIFIED, reason=reason, outcome=status,
                    error=message)
        if req.request_id:
            self.executor.reply(req.request_id, status, message)

    def _finished(self, claims: dict[str, Any], outcome: Outcome) -> None:
        log.info("event=diag_finished request=%s action=%s status=%s bytes=%d duration_s=%.2f", claims["request_id"],
                 claims["action"], outcome.status, outcome.total_bytes, outcome.duration_s)
        self._audit("finished", **claims, outcome=outcome.status, bytes=outcome.total_bytes, error=outcome.error,
                    duration_ms=int(outcome.duration_s * 1000))

    def _audit(self, event: str, **fields: Any) -> None:
        try:
            self.audit.record(event, **fields)
        except OSError as e:
            log.error("event=diag_audit_unwritable path=%s error=%r entry=%s", self.audit.path, e, event)


def _claims(req: pb.DiagnosticRequest) -> dict[str, Any]:
    """The request's own fields for the audit log, bounded so a hostile request cannot bloat it."""
    args = {k[:128]: v[:512] for k, v in list(req.args.items())[:32]}
    return {"request_id": req.request_id[:64], "requested_by": req.requested_by[:128], "action": req.action[:64],
            "args": args}
