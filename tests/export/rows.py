"""Rows in a real SQLite state store, as the ingest writer leaves them, and a scripted write target."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sqlalchemy import Engine, insert

from collector.export.outcome import Precision, Verdict, WriteResult
from collector.store.schema import events, hosts, ingest_log
from protos.patrol.v1 import agent_pb2 as pb

COLLECTOR = "collector-a"
OK = WriteResult(Verdict.OK, "204")


def add_host(engine: Engine, host_id: str = "h1", hostname: str = "web-01", customer: str = "acme") -> None:
    with engine.begin() as conn:
        conn.execute(insert(hosts).values(id=host_id, customer_id=customer, hostname=hostname, source="agent",
                                          labels={}, facts={}, agent_version="", first_seen_ms=0, last_seen_ms=0,
                                          last_data_ms=0, connected=False))


def samples_message(seq: int, start_ms: int, points: int, name: str = "cpu.busy_percent",
                    labels: dict[str, str] | None = None, value: Callable[[int], float] = float) -> bytes:
    ser = pb.Series(name=name, labels=labels or {}, timestamps_ms=[start_ms + i * 1000 for i in range(points)],
                    values=[value(start_ms // 1000 + i) for i in range(points)])
    return pb.AgentMessage(samples=pb.Samples(seq=seq, series=[ser])).SerializeToString()


def add_batches(engine: Engine, count: int, points: int = 10, host_id: str = "h1", first_seq: int = 1,
                collector_id: str = COLLECTOR, received_ms: int = 1_700_000_000_000) -> list[int]:
    """``count`` raw batches of ``points`` samples each (one series, one point per second); their ids."""
    ids = []
    with engine.begin() as conn:
        for i in range(count):
            seq = first_seq + i
            payload = samples_message(seq, 1_700_000_000_000 + seq * points * 1000, points)
            res = conn.execute(insert(ingest_log).values(collector_id=collector_id, host_id=host_id,
                                                         received_ms=received_ms, payload=payload))
            ids.append(int(res.inserted_primary_key[0]))  # type: ignore[index]
    return ids


def add_event(engine: Engine, ts_ms: int, rule: str = "sshd.failed_password", line: str = "Failed password",
              host_id: str = "h1", suppressed_before: int = 0, severity: str = "warning",
              collector_id: str = COLLECTOR) -> int:
    with engine.begin() as conn:
        res = conn.execute(insert(events).values(host_id=host_id, ts_ms=ts_ms, rule=rule, severity=severity,
                                                 collector_id=collector_id,
                                                 source="/var/log/auth.log", line=line, fields={},
                                                 suppressed_before=suppressed_before))
        return int(res.inserted_primary_key[0])  # type: ignore[index]


class ScriptedWriter:
    """A write target whose answers are scripted; it keeps every body it acknowledged, in order."""

    def __init__(self, refuse: Callable[[str], WriteResult | None] | None = None) -> None:
        self.script: deque[WriteResult] = deque()
        self.refuse = refuse
        self.accepted: list[tuple[str, Precision]] = []
        self.calls = 0
        self.down = False
        self.closed = False

    def write(self, body: str, precision: Precision) -> WriteResult:
        self.calls += 1
        if self.down:
            return WriteResult(Verdict.RETRY, "network", "connection refused")
        result = self.script.popleft() if self.script else (self.refuse(body) if self.refuse else None) or OK
        if result.verdict is Verdict.OK:
            self.accepted.append((body, precision))
        return result

    def close(self) -> None:
        self.closed = True

    def lines(self, precision: Precision = "ms") -> list[str]:
        return [line for body, p in self.accepted if p == precision for line in body.split("\n")]
