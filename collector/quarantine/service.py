"""The quarantine as a running feature: what is held, and retrying an entry through the ingest writer."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from collector import metrics
from collector.ingest import Batch, Ingestor, Outcome
from collector.store import quarantine as repository
from collector.store.samples import samples_of
from protos.patrol.v1 import agent_pb2 as pb

if TYPE_CHECKING:
    from collector.app import CollectorApp

log = logging.getLogger("patrol.quarantine")


class QuarantineError(Exception):
    """An entry that does not exist or cannot be retried; the message says which and why."""


class QuarantineService:
    name = "quarantine"

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor

    async def start(self) -> None:
        n = await asyncio.get_running_loop().run_in_executor(None, self.count)
        if n:
            log.warning("event=quarantine_held batches=%d (see 'patrol quarantine list')", n)

    async def stop(self) -> None:
        return None

    def count(self) -> int:
        with self.ingestor.engine.connect() as conn:
            n = repository.count(conn)
        metrics.quarantine_held.set(n)
        return n

    async def retry(self, entry_id: int) -> Outcome:
        """Commit a held batch again (after the store was fixed, say); it leaves the quarantine once stored."""
        loop = asyncio.get_running_loop()
        with self.ingestor.engine.connect() as conn:
            entry = repository.get(conn, entry_id)
        if entry is None:
            raise QuarantineError(f"no quarantine entry {entry_id}: see 'patrol quarantine list'")
        if entry.kind not in ("samples", "events"):
            raise QuarantineError(f"entry {entry_id} holds an undecodable {entry.kind} row: export it to inspect it")
        try:
            msg = pb.AgentMessage.FromString(entry.payload)
        except DecodeError as e:
            raise QuarantineError(f"entry {entry_id} cannot be decoded: {e}") from None
        fut: asyncio.Future[Outcome] = loop.create_future()

        def settle(outcome: Outcome) -> None:
            if not fut.done():
                fut.set_result(outcome)

        def done(outcome: Outcome) -> None:
            loop.call_soon_threadsafe(settle, outcome)

        batch = Batch(host_id=entry.host_id, epoch=entry.epoch, seq=entry.seq, done=done,
                      samples=(samples_of(msg) or pb.Samples()) if entry.kind == "samples" else None,
                      events=msg.events if entry.kind == "events" else None,
                      payload=entry.payload if entry.kind == "samples" else b"", replay_of=entry_id)
        await loop.run_in_executor(None, self.ingestor.submit, batch)
        outcome = await fut
        log.info("event=quarantine_retry id=%d host=%s seq=%d outcome=%s", entry_id, entry.host_id, entry.seq,
                 outcome.value)
        await loop.run_in_executor(None, self.count)
        return outcome


def quarantine_service(app: CollectorApp) -> QuarantineService:
    return QuarantineService(app.ingestor)
