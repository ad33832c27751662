"""Hostile but well-formed input at the ingest door, on SQLite and PostgreSQL: what breaks a bound is
dropped per point or event and counted, the rest is stored, and no agent's ingest stops."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from collector.app import CollectorApp
from collector.store import queries
from collector.store.quarantine import quarantine
from collector.store.schema import events as events_table
from collector.store.schema import hosts, series
from protos.patrol.v1 import agent_pb2 as pb
from tests.collector_core.inprocess import (
    METHOD,
    converse,
    events,
    hello,
    now_ms,
    rejected_in,
    running_collector,
    samples,
)
from tests.collector_core.inprocess import (
    series as ser,
)

pytestmark = pytest.mark.integration


def good_batches(n: int, name: str = "cpu.busy_percent") -> list[bytes]:
    t = now_ms()
    return [samples(i, [ser(name, [(t - 1000 * i, float(i))])]) for i in range(1, n + 1)]


def stored_rollups(app: CollectorApp, host: str) -> list[tuple[float, float, float, int]]:
    app.ingestor.flush_now()
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(  # type: ignore[misc]
            "SELECT r.min, r.max, r.sum, r.count FROM rollup_1m r JOIN series s ON s.id = r.series_id "
            f"WHERE s.host_id = '{host}' ORDER BY r.bucket")]


def host_rejected(app: CollectorApp, host: str) -> dict[str, dict[str, int]]:
    app.ingestor.flush_now()
    with app.engine.connect() as conn:
        return conn.execute(select(hosts.c.rejected).where(hosts.c.id == host)).scalar_one() or {}


def test_huge_values_cannot_poison_the_rollups(store_url: str, tmp_path: Path) -> None:
    """Failure 1: ±1e308 in one minute used to overflow the sums into NaN and stop ingest for everyone."""

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path) as app:
            t = now_ms()
            hostile = [hello("hostile"),
                       samples(1, [ser("cpu.busy_percent", [(t, 1e308), (t + 1, 1e308), (t + 2, 5.0)])]),
                       samples(2, [ser("cpu.busy_percent", [(t + 3, -1e308), (t + 4, -1e308)])])]
            acks = await converse(app, hostile)
            assert acks[-1].seq == 2
            assert rejected_in(acks)[0] == {"value_out_of_range": 4}
            assert await converse(app, [hello("good"), *good_batches(3)]) and stored_rollups(app, "good")
            rows = stored_rollups(app, "hostile")
            assert rows == [(5.0, 5.0, 5.0, 1)]
            assert host_rejected(app, "hostile") == {"samples": {"value_out_of_range": 4}, "events": {}}
            assert app.ingestor._refold_at is None  # every flush went through

    asyncio.run(scenario())


def test_far_timestamps_are_dropped_and_hosts_stay_readable(store_url: str, tmp_path: Path) -> None:
    """Failure 2: year 10000, ±2^62 and the int64 maximum used to be stored and break the hosts API."""

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path) as app:
            t = now_ms()
            far = [253_402_300_800_000, 2**62, -(2**62), 2**63 - 1, 1]
            acks = await converse(app, [hello("clock-broken"),
                                        samples(1, [ser("cpu.busy_percent", [(x, 1.0) for x in far] + [(t, 2.0)])]),
                                        events(2, [pb.Event(rule="r", timestamp_ms=2**62, line="x"),
                                                   pb.Event(rule="r", observed_ms=2**62, line="y"),
                                                   pb.Event(rule="r", timestamp_ms=t, line="ok")])])
            assert acks[-1].seq == 2
            assert rejected_in(acks) == ({"timestamp_out_of_range": 5}, {"timestamp_out_of_range": 1})
            app.ingestor.flush_now()
            with app.engine.connect() as conn:
                listed = {h.id: h for h in queries.list_hosts(conn, app.clock(), 90.0)}
                lines = [r.line for r in conn.execute(select(events_table.c.line))]
            assert listed["clock-broken"].last_data is not None
            assert abs(listed["clock-broken"].last_data.timestamp() * 1000 - t) < 1000
            # A log line's own far-off time is replaced by when it was received; the agent's far-off
            # observation time drops the event.
            assert sorted(lines) == ["ok", "x"]

    asyncio.run(scenario())


def test_a_sequence_number_past_int64_ends_only_its_stream(store_url: str, tmp_path: Path) -> None:
    """Failure 3: seq >= 2^63 used to fail the shared commit group and cut other agents' streams."""

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path) as app:
            bad = [hello(f"bad-{i}") for i in range(20)]

            async def hostile(first: bytes) -> grpc.StatusCode:
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await converse(app, [first, *good_batches(2), samples(2**63, [])])
                return exc.value.code()

            results = await asyncio.gather(*(hostile(h) for h in bad),
                                           *(converse(app, [hello(f"good-{i}"), *good_batches(5)]) for i in range(4)))
            assert set(results[:20]) == {grpc.StatusCode.INVALID_ARGUMENT}
            assert all(acks[-1].seq == 5 for acks in results[20:])
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await converse(app, [hello("bad-x"), samples(2**64 - 1, [])])
            assert "2^63-1" in (exc.value.details() or "")

    asyncio.run(scenario())


def test_series_per_host_are_capped_across_restarts(store_url: str, tmp_path: Path) -> None:
    """Failure 4: max_series_per_host was configured but not enforced."""
    t = now_ms()
    flood = [ser("app.requests", [(t, 1.0)], route=f"/r/{i}") for i in range(120)]

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path, max_series_per_host=50) as app:
            acks = await converse(app, [hello("flood"), samples(1, flood[:80])])
            assert rejected_in(acks)[0] == {"series_limit_host": 30}
            # series already admitted keep being accepted
            acks = await converse(app, [hello("flood"), samples(1, flood[:10])])
            assert rejected_in(acks)[0] == {}
            await converse(app, [hello("other"), *good_batches(1)])
        async with running_collector(store_url, tmp_path, max_series_per_host=50) as app:
            acks = await converse(app, [hello("flood"), samples(1, flood[80:])])
            assert rejected_in(acks)[0] == {"series_limit_host": 40}
            with app.engine.connect() as conn:
                n = conn.execute(select(series.c.id).where(series.c.host_id == "flood")).all()
            assert len(n) == 50
            assert host_rejected(app, "flood")["samples"] == {"series_limit_host": 70}

    asyncio.run(scenario())


def test_series_per_collector_are_capped(store_url: str, tmp_path: Path) -> None:
    t = now_ms()
    eight = [ser(f"m.s{i}", [(t, 1.0)]) for i in range(8)]

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path, ingest={"max_series_per_collector": 10}) as app:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as ch:
                open_stream = ch.stream_stream(METHOD, request_serializer=None,
                                               response_deserializer=pb.CollectorMessage.FromString)()
                await open_stream.write(hello("a"))
                await open_stream.write(samples(1, eight))
                first = await open_stream.read()
                assert first.ack.seq == 1 and not first.ack.rejected_samples
                # "a" is still connected: its 8 series count against the collector's 10
                acks = await converse(app, [hello("b"), samples(1, eight)])
                assert rejected_in(acks)[0] == {"series_limit_collector": 6}
                await open_stream.done_writing()
                assert await open_stream.read() is grpc.aio.EOF
            # a closed stream gives its host's share back
            acks = await converse(app, [hello("c"), samples(1, eight)])
            assert rejected_in(acks)[0] == {}

    asyncio.run(scenario())


def test_overlong_rule_id_drops_that_event_only(store_url: str, tmp_path: Path) -> None:
    """Failure 5: a rule id over 200 characters failed the commit on PostgreSQL, so the agent's spool never
    drained; now that event is dropped and counted on both backends, the others of its batch are stored."""

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path) as app:
            t = now_ms()
            evs = [pb.Event(rule="r" * 201, timestamp_ms=t, line="long"), pb.Event(rule="sshd.ok", timestamp_ms=t,
                                                                                  line="kept")]
            acks = await converse(app, [hello("logs"), events(1, evs), *good_batches(3)[1:]])
            assert acks[-1].seq == 3
            assert rejected_in(acks)[1] == {"rule_length": 1}
            with app.engine.connect() as conn:
                assert [r.line for r in conn.execute(select(events_table.c.line))] == ["kept"]
                assert conn.execute(select(quarantine.c.id)).all() == []

    asyncio.run(scenario())


def test_bad_labels_and_names_drop_their_series(store_url: str, tmp_path: Path) -> None:
    t = now_ms()

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path) as app:
            batch = [ser("x" * 201, [(t, 1.0)]), ser("ok.series", [(t, 1.0), (t + 1, math.nan), (t + 2, math.inf)]),
                     ser("many.labels", [(t, 1.0)], **{f"k{i}": "v" for i in range(33)}),
                     ser("long.label", [(t, 1.0)], k="v" * 1025), ser("nul\x00name", [(t, 1.0)]),
                    ser("nul.label", [(t, 1.0), (t + 1, 1.0)], k="a\x00b")]
            evs = [pb.Event(rule="r", timestamp_ms=t, line="a\x00b"), pb.Event(rule="r", timestamp_ms=t, line="ok")]
            acks = await converse(app, [hello("labels"), samples(1, batch), events(2, evs)])
            assert acks[-1].seq == 2
            assert rejected_in(acks) == ({"series_name_length": 1, "non_finite_value": 2, "too_many_labels": 1,
                                          "label_length": 1, "nul_character": 3}, {"nul_character": 1})
            assert stored_rollups(app, "labels") == [(1.0, 1.0, 1.0, 1)]

    asyncio.run(scenario())


def test_structurally_broken_hello_ends_its_stream(store_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_collector(store_url, tmp_path) as app:
            for bad in (pb.Hello(agent_id="h", customer="acme", spool_epoch="e", version="v" * 65),
                        pb.Hello(agent_id="h", customer="acme", spool_epoch="e", labels={"k": "v" * 2000}),
                        pb.Hello(agent_id="h", customer="acme", spool_epoch="e" * 65)):
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await converse(app, [pb.AgentMessage(hello=bad).SerializeToString()])
                assert exc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
                assert "Hello." in (exc.value.details() or "")

    asyncio.run(scenario())
