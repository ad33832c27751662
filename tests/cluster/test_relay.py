"""Diagnostics relayed through the store between two collectors of a group."""

from __future__ import annotations

from collector.diagnostics.relay import Relay
from collector.store.engine import open_engine
from protos.patrol.v1 import agent_pb2 as pb


def request(rid: str = "r1") -> pb.DiagnosticRequest:
    return pb.DiagnosticRequest(request_id=rid, action="disk_usage", requested_by="alice", signature=b"sig")


def test_a_request_travels_to_the_target_and_its_result_back_in_order(store_url: str) -> None:
    engine = open_engine(store_url)
    origin, target, other = Relay(engine, "col-a"), Relay(engine, "col-b"), Relay(engine, "col-c")
    origin.post(request(), "h1", "col-b", now_ms=1000)
    assert other.take() == []
    (posted,) = target.take()
    assert posted.request == request() and posted.host_id == "h1" and posted.origin == "col-a"
    assert target.take() == [], "taken exactly once"
    assert target.put("h1", pb.DiagnosticResult(request_id="r1", chunk=0, data=b"abc"))
    # The agent moved to col-c mid-request: col-c writes the rest, for the same request.
    assert other.put("h1", pb.DiagnosticResult(request_id="r1", chunk=1, data=b"def", final=True, status="ok",
                                               total_bytes=6))
    assert not other.put("h2", pb.DiagnosticResult(request_id="r1", chunk=2, final=True)), "wrong host"
    got = origin.results({"r1": 0})
    assert [(g.result.chunk, g.result.data, g.result.final) for g in got] == [(0, b"abc", False), (1, b"def", True)]
    assert origin.results({"r1": got[0].row_id}) == got[1:]
    assert not target.put("h1", pb.DiagnosticResult(request_id="r1", chunk=2, final=True)), "already finished"
    origin.forget("r1")
    assert origin.results({"r1": 0}) == []


def test_a_cancel_reaches_the_target_once(store_url: str) -> None:
    engine = open_engine(store_url)
    origin, target = Relay(engine, "col-a"), Relay(engine, "col-b")
    origin.post(request(), "h1", "col-b", now_ms=1000)
    origin.cancel("r1", "alice")
    assert target.cancels() == [], "not sent yet: the request itself goes first"
    target.take()
    assert target.cancels() == [("r1", "h1", "alice")]
    assert target.cancels() == []


def test_unknown_requests_are_not_stored_and_old_relays_are_swept(store_url: str) -> None:
    engine = open_engine(store_url)
    relay = Relay(engine, "col-a")
    assert not relay.put("h1", pb.DiagnosticResult(request_id="nobody-asked", final=True))
    relay.post(request("old"), "h1", "col-b", now_ms=1000)
    relay.post(request("new"), "h1", "col-b", now_ms=10 * 86400 * 1000)
    assert relay.sweep(now_ms=10 * 86400 * 1000) == 1
    assert [p.request_id for p in Relay(engine, "col-b").take()] == ["new"]
