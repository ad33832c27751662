"""The collector's router with a stand-in for the gRPC service: signing, results, audit, limits, cancel.

Time is injected: the watchdog's decisions are driven by moving a fake monotonic clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from agent.diagnostics.verify import NonceCache, PinnedKey, RequestVerifier
from collector.diagnostics.audit import AuditStore, audit_events, audit_requests
from collector.diagnostics.config import DiagnosticsSettings
from collector.diagnostics.router import (
    CANCEL_GRACE,
    DiagnosticsRouter,
    HostLookup,
    HostOffline,
    TooBusy,
    UnknownHost,
)
from collector.diagnostics.signing import Signer
from collector.diagnostics.tables import audit_log
from protos.patrol.v1 import agent_pb2 as pb
from tests.diagnostics.conftest import NOW


class FakeService:
    def __init__(self, hosts: tuple[str, ...] = ("web-1",)) -> None:
        self.sessions: dict[str, object] = dict.fromkeys(hosts, object())
        self.sent: list[tuple[str, pb.CollectorMessage]] = []

    async def send(self, host_id: str, message: pb.CollectorMessage) -> bool:
        if host_id not in self.sessions:
            return False
        self.sent.append((host_id, message))
        return True


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class World:
    def __init__(self, tmp_path: Path, signer: Signer, ssh: Any = None) -> None:
        self.engine = create_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
        audit_log.create(self.engine)
        self.service = FakeService()
        self.mono = Clock()
        known = {"db-1": HostLookup("db-1", int(NOW * 1000), False, None),
                 "app-1": HostLookup("app-1", int(NOW * 1000), True, "collector-b")}
        service: Any = self.service  # stands in for collector.server.AgentService
        self.router = DiagnosticsRouter(
            service, signer, AuditStore(self.engine, "collector-a", lambda: NOW), DiagnosticsSettings(),
            collector_id="collector-a", find_host=known.get, ssh=lambda: ssh, clock=lambda: NOW,
            monotonic=self.mono)

    async def settle(self) -> None:
        """Let background audit writes finish."""
        while self.router._tasks:
            await asyncio.wait(set(self.router._tasks))

    def events(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return list(reversed(audit_events(conn)))

    def requests(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return audit_requests(conn)


def result(rid: str, chunk: int, data: bytes = b"", final: bool = False, status: str = "", error: str = "",
           total: int = 0) -> pb.DiagnosticResult:
    return pb.DiagnosticResult(request_id=rid, chunk=chunk, data=data, final=final, status=status, error=error,
                               total_bytes=total)


def test_agent_requests_are_signed_for_their_host_and_results_stream_back(
        tmp_path: Path, signer: Signer, pinned: Path) -> None:
    async def scenario() -> None:
        w = World(tmp_path, signer)
        p = await w.router.submit("web-1", "tail_log", {"path": "/var/log/syslog"}, "alice", timeout_s=20)
        host, msg = w.service.sent[-1]
        req = msg.diagnostic_request
        assert (host, req.request_id, req.timeout_s, req.requested_by) == ("web-1", p.request_id, 20, "alice")
        # What the agent checks: the signature over the canonical encoding, for this host.
        RequestVerifier(PinnedKey(pinned), "web-1", NonceCache(tmp_path / "n.json"), clock_skew_s=0,
                        max_request_age_s=900, clock=lambda: NOW).verify(req)
        received: list[dict[str, Any]] = []

        async def reader() -> None:
            async for item in w.router.follow(p):
                received.append(item)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        w.router.on_result("web-1", result(p.request_id, 0, b"hello "))
        w.router.on_result("web-1", result(p.request_id, 1, b"world\n", final=True, status="ok", total=12))
        await asyncio.wait_for(task, 5)
        assert [i["type"] for i in received] == ["chunk", "chunk", "final"]
        assert received[-1]["status"] == "ok" and received[-1]["total_bytes"] == 12
        await w.settle()
        assert [(e["event"], e["outcome"], e["bytes"]) for e in w.events()] == [
            ("diag.request", None, None), ("diag.result", "ok", 12)]
        summary = w.requests()[0]
        assert (summary["actor"], summary["host_id"], summary["args"], summary["outcome"]) == (
            "alice", "web-1", {"path": "/var/log/syslog"}, "ok")

    asyncio.run(scenario())


def test_offline_unknown_and_elsewhere_connected_hosts_answer_at_once(tmp_path: Path, signer: Signer) -> None:
    async def scenario() -> None:
        w = World(tmp_path, signer)
        with pytest.raises(HostOffline, match="not connected"):
            await w.router.submit("db-1", "agent_state", {}, "alice")
        with pytest.raises(HostOffline, match="collector-b"):
            await w.router.submit("app-1", "agent_state", {}, "alice")
        with pytest.raises(UnknownHost):
            await w.router.submit("nope", "agent_state", {}, "alice")
        assert w.service.sent == []
        assert [(r["host_id"], r["outcome"]) for r in w.requests()] == [("app-1", "offline"), ("db-1", "offline")]

    asyncio.run(scenario())


def test_requests_per_host_are_limited(tmp_path: Path, signer: Signer) -> None:
    async def scenario() -> None:
        w = World(tmp_path, signer)
        for _ in range(DiagnosticsSettings().per_host):
            await w.router.submit("web-1", "agent_state", {}, "alice")
        with pytest.raises(TooBusy):
            await w.router.submit("web-1", "agent_state", {}, "alice")

    asyncio.run(scenario())


def test_results_from_the_wrong_host_or_after_the_end_are_audited_as_unsolicited(tmp_path: Path,
                                                                                  signer: Signer) -> None:
    async def scenario() -> None:
        w = World(tmp_path, signer)
        p = await w.router.submit("web-1", "agent_state", {}, "alice")
        w.router.on_result("web-2", result(p.request_id, 0, b"spoofed", final=True, status="ok", total=7))
        assert p.status is None and p.total_bytes == 0
        w.router.on_result("web-1", result(p.request_id, 0, final=True, status="ok"))
        w.router.on_result("web-1", result(p.request_id, 0, final=True, status="denied", error="replayed"))
        await w.settle()
        unsolicited = [e for e in w.events() if e["event"] == "diag.unsolicited"]
        assert [(e["host_id"], e["outcome"]) for e in unsolicited] == [("web-2", "ok"), ("web-1", "denied")]
        assert "replayed" in unsolicited[1]["detail"]

    asyncio.run(scenario())


def test_the_watchdog_gives_up_on_silent_or_vanished_agents(tmp_path: Path, signer: Signer) -> None:
    async def scenario() -> None:
        w = World(tmp_path, signer)
        s = w.router.settings
        silent = await w.router.submit("web-1", "agent_state", {}, "alice", timeout_s=10)
        w.mono.t += 10 + s.answer_grace - 1
        w.router.tick()
        assert silent.status is None
        w.mono.t += 2
        w.router.tick()
        assert silent.status == "error" and "no final answer" in silent.error
        vanished = await w.router.submit("web-1", "agent_state", {}, "alice", timeout_s=600)
        del w.service.sessions["web-1"]
        w.router.tick()
        w.mono.t += s.disconnect_grace + 1
        w.router.tick()
        assert vanished.status == "error" and "disconnected" in vanished.error
        w.mono.t += s.keep_finished + 1
        w.router.tick()
        assert w.router.requests == {}

    asyncio.run(scenario())


def test_cancel_is_sent_to_the_agent_and_ends_the_request(tmp_path: Path, signer: Signer) -> None:
    async def scenario() -> None:
        w = World(tmp_path, signer)
        confirmed = await w.router.submit("web-1", "agent_state", {}, "alice")
        await w.router.cancel(confirmed.request_id, "bob")
        assert w.service.sent[-1][1].diagnostic_cancel.request_id == confirmed.request_id
        w.router.on_result("web-1", result(confirmed.request_id, 0, final=True, status="cancelled"))
        assert (confirmed.status, confirmed.cancel_by) == ("cancelled", "bob")
        silent = await w.router.submit("web-1", "agent_state", {}, "alice")
        await w.router.cancel(silent.request_id, "bob")
        w.mono.t += CANCEL_GRACE + 1
        w.router.tick()
        assert silent.status == "cancelled" and "did not confirm" in silent.error
        await w.settle()
        assert [e["actor"] for e in w.events() if e["event"] == "diag.cancel"] == ["bob", "bob"]

    asyncio.run(scenario())


class FakeStream:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.status = "running"
        self.error: str | None = None
        self.cancelled = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        self.status = "ok"

    def cancel(self) -> None:
        self.cancelled = True


class FakePoller:
    def __init__(self) -> None:
        self.targets = {"ssh-1": object()}
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def run_action(self, host_id: str, action: str, args: dict[str, str], *, timeout: float | None = None,
                   max_output: int | None = None) -> FakeStream:
        from collector.ssh import ActionDenied

        if action not in ("top_processes", "listening_ports"):
            raise ActionDenied(f"action {action!r} is not available over SSH")
        self.calls.append((host_id, action, dict(args)))
        return FakeStream([b"PID CMD\n", b"1 init\n"])


def test_ssh_hosts_run_through_the_ssh_service(tmp_path: Path, signer: Signer) -> None:
    async def scenario() -> None:
        poller = FakePoller()
        w = World(tmp_path, signer, ssh=poller)
        p = await w.router.submit("ssh-1", "top_processes", {"limit": "5"}, "alice")
        items = [i async for i in w.router.follow(p)]
        assert items[-1]["status"] == "ok" and p.total_bytes == len(b"PID CMD\n1 init\n") and p.via == "ssh"
        assert poller.calls == [("ssh-1", "top_processes", {"limit": "5"})]
        refused = await w.router.submit("ssh-1", "tail_log", {}, "alice")
        assert refused.status == "denied" and "not available over SSH" in refused.error
        assert w.service.sent == []  # nothing went to an agent stream
        await w.settle()
        assert [(r["via"], r["outcome"]) for r in w.requests()] == [("ssh", "denied"), ("ssh", "ok")]

    asyncio.run(scenario())
