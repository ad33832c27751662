"""Timeouts, output caps, chunking and cancellation of the executor, with results captured in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agent.config import AgentConfig
from agent.diagnostics.actions import Prepared
from agent.diagnostics.context import ActionContext, AgentRuntime
from agent.diagnostics.executor import Executor, Job, Outcome
from protos.patrol.v1 import agent_pb2 as pb


class Sink:
    def __init__(self, accept: bool = True) -> None:
        self.results: list[pb.DiagnosticResult] = []
        self.accept = accept
        self.lock = threading.Lock()

    def __call__(self, result: pb.DiagnosticResult) -> bool:
        if not self.accept:
            return False
        with self.lock:
            copy = pb.DiagnosticResult()
            copy.CopyFrom(result)
            self.results.append(copy)
        return True

    @property
    def output(self) -> bytes:
        return b"".join(r.data for r in self.results)


@pytest.fixture
def runtime(tmp_path: Path) -> AgentRuntime:
    cfg = AgentConfig.model_validate({"customer": "acme", "collector": "127.0.0.1:1",
                                      "spool": {"dir": str(tmp_path / "spool")}})
    return AgentRuntime("a1", cfg, lambda: None, time.time())


class Recorder:
    """The executor's on_done callback: remembers the outcome and signals it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.outcomes: list[Outcome] = []

    def __call__(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.done.set()


def execute(runtime: AgentRuntime, sink: Sink, prepared: Prepared, *, timeout: float = 10, cap: int = 10**7,
            chunk: int = 16 * 1024, executor: Executor | None = None, rid: str = "r1") -> tuple[Executor, Outcome]:
    ex = executor or Executor(runtime, sink, chunk_bytes=chunk, max_concurrent=2, send_patience=0.3)
    recorder = Recorder()
    assert ex.start(Job(rid, "test", prepared, timeout, cap), recorder)
    assert recorder.done.wait(30), "the executor never finished"
    return ex, recorder.outcomes[0]


def pid_of(sink: Sink) -> int:
    return int(sink.output.split(b"\n", 1)[0])


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_output_is_chunked_in_order_with_one_final(runtime: AgentRuntime) -> None:
    data = bytes(range(256)) * 400  # 100 KiB

    def run(ctx: ActionContext) -> Iterator[bytes]:
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]

    sink = Sink()
    _, outcome = execute(runtime, sink, Prepared(run), chunk=16 * 1024)
    assert (outcome.status, outcome.total_bytes) == ("ok", len(data))
    assert sink.output == data
    assert [r.chunk for r in sink.results] == list(range(len(sink.results)))
    assert [r.final for r in sink.results].count(True) == 1 and sink.results[-1].final
    assert all(len(r.data) <= 16 * 1024 for r in sink.results)
    assert sink.results[-1].total_bytes == len(data)


def test_a_runaway_process_is_cut_at_the_output_cap(runtime: AgentRuntime) -> None:
    def run(ctx: ActionContext) -> Iterator[bytes]:
        yield from ctx.stream(["sh", "-c", "echo $$; exec yes runaway"])

    sink = Sink()
    _, outcome = execute(runtime, sink, Prepared(run), cap=50_000)
    assert outcome.status == "truncated"
    assert len(sink.output) == outcome.total_bytes == 50_000
    assert gone(pid_of(sink))


def test_a_runaway_process_is_cut_by_the_timeout(runtime: AgentRuntime) -> None:
    def run(ctx: ActionContext) -> Iterator[bytes]:
        yield from ctx.stream(["sh", "-c", "echo $$; exec sleep 60"])

    sink = Sink()
    _, outcome = execute(runtime, sink, Prepared(run), timeout=0.5)
    assert outcome.status == "timeout" and "0.5 s" in outcome.error
    assert gone(pid_of(sink))


def test_an_action_stuck_in_python_still_ends_at_its_timeout(runtime: AgentRuntime) -> None:
    release = threading.Event()

    def run(ctx: ActionContext) -> Iterator[bytes]:
        yield b"before\n"
        release.wait()  # blocked where no deadline check can reach it
        yield b"after\n"

    sink = Sink()
    try:
        _, outcome = execute(runtime, sink, Prepared(run), timeout=0.5)
    finally:
        release.set()
    assert outcome.status == "timeout"
    assert sink.output == b"before\n"


def test_cancel_kills_the_running_command(runtime: AgentRuntime) -> None:
    sink = Sink()
    ex = Executor(runtime, sink, chunk_bytes=1024, max_concurrent=1)

    def run(ctx: ActionContext) -> Iterator[bytes]:
        yield from ctx.stream(["sh", "-c", "echo $$; exec sleep 60"])

    recorder = Recorder()
    assert ex.start(Job("r1", "test", Prepared(run), 60, 10**6), recorder)
    deadline = time.monotonic() + 10
    while not sink.output and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = pid_of(sink)
    # The concurrency limit holds while it runs.
    assert not ex.start(Job("r2", "test", Prepared(run), 60, 10**6), lambda o: None)
    assert ex.cancel("r1", "stop it")
    assert recorder.done.wait(10)
    assert (recorder.outcomes[0].status, recorder.outcomes[0].error) == ("cancelled", "stop it")
    assert gone(pid)
    assert ex.running() == []
    assert not ex.cancel("r1")


def test_a_lost_connection_ends_the_action(runtime: AgentRuntime) -> None:
    def run(ctx: ActionContext) -> Iterator[bytes]:
        yield from ctx.stream(["sh", "-c", "echo $$; exec yes"])

    sink = Sink(accept=False)
    _, outcome = execute(runtime, sink, Prepared(run), chunk=1024)
    assert outcome.status == "error" and "connection" in outcome.error
