"""Property-based fuzzing of every upstream message type against a real collector process on loopback,
with a well-behaved agent streaming alongside: the collector never dies, every hostile stream gets
an OK with drops counted or a clear status, and the good agent loses nothing."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.localrun import api_healthy
from protos.patrol.v1 import agent_pb2 as pb
from tests.integration.harness import CollectorProcess

pytestmark = pytest.mark.integration
METHOD = "/patrol.v1.AgentService/Connect"
# What a hostile stream may be answered with: each names what was wrong.
CLEAR_STATUSES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
                  grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED}

texts = st.text(max_size=300)
label_maps = st.dictionaries(st.text(max_size=140), st.text(max_size=1100), max_size=40)
u64 = st.integers(0, 2**64 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
now_ms = int(time.time() * 1000)
stamps = st.one_of(i64, st.integers(now_ms - 10**9, now_ms + 10**9))
values = st.floats(allow_nan=True, allow_infinity=True)
spools = st.builds(pb.SpoolStats, depth_batches=u64, depth_bytes=u64, dropped_batches=u64, dropped_samples=u64,
                   dropped_events=u64, corrupt_records=u64)
facts = st.builds(pb.Facts, hostname=texts, os=texts, kernel=texts, arch=texts, cpu_model=texts,
                  cpu_count=st.integers(0, 2**32 - 1), memory_bytes=u64, boot_time_ms=i64, extra=label_maps,
                  disks=st.lists(st.builds(pb.Disk, device=texts, mount=texts, total_bytes=u64), max_size=3))


@st.composite
def series(draw: st.DrawFn) -> pb.Series:
    n = draw(st.integers(0, 5))
    ts = draw(st.lists(stamps, min_size=n, max_size=n))
    vs = draw(st.lists(values, min_size=n, max_size=n))
    if draw(st.integers(0, 9)) == 0:  # now and then the lengths disagree: structurally broken
        vs = vs[:-1] if vs else [1.0]
    return pb.Series(name=draw(st.text(max_size=220)), labels=draw(label_maps), timestamps_ms=ts, values=vs)


events = st.builds(pb.Event, timestamp_ms=stamps, rule=st.text(max_size=220),
                   severity=st.integers(0, 4), source=texts, line=st.text(max_size=1000),
                   fields=label_maps, suppressed_before=u64, observed_ms=stamps)
payloads = st.one_of(
    st.builds(lambda h: pb.AgentMessage(hello=h), st.builds(
        pb.Hello, agent_id=texts, hostname=texts, customer=st.sampled_from(["acme", "nobody", ""]),
        labels=label_maps, version=st.text(max_size=80), facts=facts, spool_epoch=st.text(max_size=80),
        acked_seq=u64, spool=spools)),
    st.builds(lambda s: pb.AgentMessage(samples=s), st.builds(
        pb.Samples, seq=st.one_of(u64, st.integers(1, 1000)), series=st.lists(series(), max_size=4), spool=spools)),
    st.builds(lambda e: pb.AgentMessage(events=e), st.builds(
        pb.Events, seq=st.one_of(u64, st.integers(1, 1000)), events=st.lists(events, max_size=4))),
    st.builds(lambda f: pb.AgentMessage(facts=f), facts),
    st.builds(lambda d: pb.AgentMessage(diagnostic_result=d), st.builds(
        pb.DiagnosticResult, request_id=st.text(max_size=80), chunk=st.integers(0, 2**32 - 1),
        data=st.binary(max_size=200), final=st.booleans(), status=st.text(max_size=20), error=texts,
        total_bytes=u64)),
    st.builds(lambda h: pb.AgentMessage(heartbeat=h), st.builds(pb.Heartbeat, timestamp_ms=i64, spool=spools)),
)
wire = st.one_of(payloads.map(lambda m: m.SerializeToString()), st.binary(max_size=300))


def hello(agent_id: str) -> bytes:
    return pb.AgentMessage(hello=pb.Hello(agent_id=agent_id, hostname=agent_id, customer="acme",
                                          spool_epoch=uuid.uuid4().hex)).SerializeToString()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("fuzz"), limits={"hello_timeout": "2s",
                                                                   "max_message_bytes": 65536}).start()
    yield c
    c.kill(signal.SIGTERM)


class GoodAgent(threading.Thread):
    """Streams one small batch every 20 ms on one stream until stopped; records every ack."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.sent = 0
        self.acked = 0
        self.error: BaseException | None = None

    def messages(self) -> Iterator[bytes]:
        yield hello("good-fuzz-agent")
        while not self.stop.is_set():
            self.sent += 1
            t = int(time.time() * 1000)
            yield pb.AgentMessage(samples=pb.Samples(seq=self.sent, series=[
                pb.Series(name="cpu.busy_percent", timestamps_ms=[t], values=[1.0])])).SerializeToString()
            time.sleep(0.02)

    def run(self) -> None:
        try:
            with grpc.insecure_channel(f"127.0.0.1:{self.port}") as ch:
                call = ch.stream_stream(METHOD, request_serializer=None,
                                        response_deserializer=pb.CollectorMessage.FromString)
                for m in call(self.messages(), timeout=600):
                    if m.WhichOneof("payload") == "ack":
                        self.acked = m.ack.seq
        except BaseException as e:  # reported by the test
            self.error = e


def test_fuzzed_upstream_messages(collector: CollectorProcess) -> None:
    good = GoodAgent(collector.grpc_port)
    good.start()
    seen: dict[str, int] = {}
    with grpc.insecure_channel(f"127.0.0.1:{collector.grpc_port}",
                               options=[("grpc.max_send_message_length", 2**24)]) as ch:
        stub = ch.stream_stream(METHOD, request_serializer=None, response_deserializer=pb.CollectorMessage.FromString)

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(after_hello=st.booleans(), messages=st.lists(wire, min_size=1, max_size=3))
        def check(after_hello: bool, messages: list[bytes]) -> None:
            stream = ([hello(f"fuzz-{uuid.uuid4().hex[:8]}")] if after_hello else []) + messages
            try:
                answers = list(stub(iter(stream), timeout=60))
            except grpc.RpcError as e:
                assert e.code() in CLEAR_STATUSES, (e.code(), e.details())  # type: ignore[attr-defined]
                assert e.details()  # type: ignore[attr-defined]
                seen[e.code().name] = seen.get(e.code().name, 0) + 1  # type: ignore[attr-defined]
                return
            seen["OK"] = seen.get("OK", 0) + 1
            for a in answers:
                if a.WhichOneof("payload") == "ack":
                    assert all(n > 0 for n in a.ack.rejected_samples.values())

        check()
    assert collector.proc is not None and collector.proc.poll() is None, "the collector died"
    assert api_healthy(collector.api)
    good.stop.set()
    good.join(60)
    assert good.error is None, good.error
    assert good.sent > 0 and good.acked == good.sent, (good.sent, good.acked)
    collector.flush()
    with collector.db() as db:
        stored = db.execute("SELECT SUM(r.count) FROM rollup_1m r JOIN series s ON s.id = r.series_id "
                            "WHERE s.host_id = 'good-fuzz-agent'").fetchone()[0]
    assert stored == good.sent  # 0 lost, 0 duplicated
    assert "OK" in seen and "INVALID_ARGUMENT" in seen, seen
