"""Thousands of agents connecting at once and then staying idle: each stream reaches the collector,
stays open, and ends cleanly; the collector logs how every stream ended."""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import Iterator

import pytest

from tests.integration.harness import CollectorProcess, wait_for
from tests.integration.idle_agents import active_streams, idle_agent

pytestmark = [pytest.mark.integration, pytest.mark.slow]
STREAMS = 3000


@pytest.fixture
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("idle"), limits={"hello_timeout": "60s"}).start()
    yield c
    c.kill(signal.SIGTERM)


def test_a_burst_of_idle_streams_is_served(collector: CollectorProcess) -> None:
    """3,000 streams opened at once used to lose hundreds to CANCELLED or INTERNAL, unlogged: gRPC refused
    calls past 1,000 waiting for the event loop before any handler ran."""

    async def scenario() -> collections.Counter[str]:
        release = asyncio.Event()
        tasks = [asyncio.create_task(idle_agent(collector.grpc_port, i, release)) for i in range(STREAMS)]
        try:
            await asyncio.get_running_loop().run_in_executor(None, lambda: wait_for(
                lambda: active_streams(collector.api) == STREAMS or all(t.done() for t in tasks), 180,
                "every stream open at the collector", interval=1))
        finally:
            release.set()
        return collections.Counter(await asyncio.gather(*tasks))

    outcomes = asyncio.run(scenario())
    assert outcomes == {"OK": STREAMS}, outcomes
    wait_for(lambda: active_streams(collector.api) == 0, 120, "every stream closed")
    log = collector.log_path.read_text()
    assert log.count("event=connected") == STREAMS
    assert log.count("event=disconnected") == STREAMS
