"""Diagnostics for an agent connected to another collector of the group, relayed through the store.

Engineers may ask any collector; the agent's stream lives on exactly one. The collector asked (the
*origin*) signs the request as usual and posts it to ``diag_relay`` addressed to the collector that
holds the stream (the *target*). The target picks it up within ``cluster.relay_poll``, sends it down
the stream unchanged (the signature is the origin's, which is why a group shares one signing key),
and writes every result chunk to ``diag_relay_chunks``. The origin reads them back in order and
answers the engineer exactly as for a local agent; a cancel travels the same way. If the agent moves
again mid-request, whichever collector receives its results finds the request here and writes them.

Every step is a short transaction on the store, so this works the same on PostgreSQL for a group and
on SQLite for tests. Rows are deleted by the origin when the request ends, and swept after a day if
the origin died first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, select, update

from collector.diagnostics.tables import diag_relay, diag_relay_chunks
from protos.patrol.v1 import agent_pb2 as pb

SWEEP_AFTER_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Posted:
    """A request for an agent connected here, posted by another collector."""

    request_id: str
    host_id: str
    origin: str
    request: pb.DiagnosticRequest


@dataclass(frozen=True)
class Relayed:
    """A result chunk that came back through the store."""

    row_id: int
    request_id: str
    result: pb.DiagnosticResult


class Relay:
    def __init__(self, engine: Engine, collector_id: str) -> None:
        self.engine = engine
        self.collector_id = collector_id

    # -- the origin's side ------------------------------------------------------------------------

    def post(self, request: pb.DiagnosticRequest, host_id: str, target: str, now_ms: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(diag_relay.insert().values(
                request_id=request.request_id, host_id=host_id, origin=self.collector_id, target=target,
                request=request.SerializeToString(), state="queued", created_ms=now_ms, cancel_sent=False))

    def results(self, after: dict[str, int]) -> list[Relayed]:
        """Chunks of the given requests past each one's last seen row id, in arrival order."""
        if not after:
            return []
        c = diag_relay_chunks.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(diag_relay_chunks).where(c.request_id.in_(list(after)))
                                .where(c.id > min(after.values())).order_by(c.id)).mappings().all()
        return [Relayed(r["id"], r["request_id"], pb.DiagnosticResult(
                    request_id=r["request_id"], chunk=r["chunk"], data=r["data"], final=r["final"],
                    status=r["status"], error=r["error"], total_bytes=r["total_bytes"]))
                for r in rows if r["id"] > after[r["request_id"]]]

    def cancel(self, request_id: str, actor: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(diag_relay).where(diag_relay.c.request_id == request_id,
                                                  diag_relay.c.cancel_by.is_(None)).values(cancel_by=actor))

    def forget(self, request_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(diag_relay_chunks).where(diag_relay_chunks.c.request_id == request_id))
            conn.execute(delete(diag_relay).where(diag_relay.c.request_id == request_id))

    # -- the target's side ------------------------------------------------------------------------

    def take(self) -> list[Posted]:
        """Requests addressed to this collector that nobody sent yet; each is taken exactly once."""
        t = diag_relay.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.request_id, t.host_id, t.origin, t.request)
                                .where(t.target == self.collector_id, t.state == "queued")).all()
        taken: list[Posted] = []
        for rid, host_id, origin, data in rows:
            with self.engine.begin() as conn:
                res = conn.execute(update(diag_relay).where(t.request_id == rid, t.state == "queued")
                                   .values(state="sent"))
            if res.rowcount == 1:
                taken.append(Posted(rid, host_id, origin, pb.DiagnosticRequest.FromString(data)))
        return taken

    def cancels(self) -> list[tuple[str, str, str]]:
        """``(request_id, host_id, actor)`` of cancels asked for requests this collector sent."""
        t = diag_relay.c
        out: list[tuple[str, str, str]] = []
        with self.engine.begin() as conn:
            rows = conn.execute(select(t.request_id, t.host_id, t.cancel_by).where(
                t.target == self.collector_id, t.state == "sent", t.cancel_by.is_not(None),
                t.cancel_sent.is_(False))).all()
            for rid, host_id, actor in rows:
                conn.execute(update(diag_relay).where(t.request_id == rid).values(cancel_sent=True))
                out.append((rid, host_id, actor))
        return out

    def put(self, host_id: str, result: pb.DiagnosticResult) -> bool:
        """Store a result chunk of a relayed request; False if the store knows no such open request."""
        t = diag_relay.c
        with self.engine.begin() as conn:
            known = conn.execute(select(t.state).where(t.request_id == result.request_id, t.host_id == host_id,
                                                       t.state != "done")).scalar_one_or_none()
            if known is None:
                return False
            conn.execute(diag_relay_chunks.insert().values(
                request_id=result.request_id, chunk=result.chunk, data=result.data, final=result.final,
                status=result.status, error=result.error, total_bytes=result.total_bytes))
            if result.final:
                conn.execute(update(diag_relay).where(t.request_id == result.request_id).values(state="done"))
        return True

    def sweep(self, now_ms: int) -> int:
        """Delete relays older than a day (their origin died before it could clean up)."""
        with self.engine.begin() as conn:
            old = select(diag_relay.c.request_id).where(diag_relay.c.created_ms < now_ms - SWEEP_AFTER_MS)
            conn.execute(delete(diag_relay_chunks).where(diag_relay_chunks.c.request_id.in_(old)))
            res = conn.execute(delete(diag_relay).where(diag_relay.c.created_ms < now_ms - SWEEP_AFTER_MS))
        return int(res.rowcount or 0)
