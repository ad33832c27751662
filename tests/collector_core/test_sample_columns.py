"""Samples batches in their columnar form (keys, counts, little-endian timestamps and values): read as
the series form would be, refused with a reason when the columns do not fit, stored, refolded and
exported like any batch."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.export.lineprotocol import HostTags, SampleEncoder
from collector.ingest import Batch, Outcome
from collector.store.samples import (
    KEY_CACHE_MAX,
    FlatSamples,
    KeyCache,
    Labels,
    MalformedSamples,
    flatten,
    logged_samples,
    series_identity,
)
from protos.patrol.v1 import agent_pb2 as pb
from tests.collector_core.inprocess import converse, hello, now_ms, rejected_in, running_collector
from tests.collector_core.inprocess import series as ser
from tests.collector_core.test_ingest_store import NOW, host, make, tier_totals
from tests.columns import as_columns, columns_message

pytestmark = pytest.mark.integration


def _batch(seq: int = 7) -> pb.Samples:
    return pb.Samples(seq=seq, series=[
        ser("cpu.busy_percent", [(1000, 1.5), (2000, 2.5)]),
        ser("disk.used_percent", [(1000, 70.0)], mount="/数据", device="sdb1"),
        ser("empty.series", []),
        ser("mem.used_percent", [(1000, -0.0), (3000, 1e300), (2000, 5.0)]),
    ])


def _rows(flat: FlatSamples) -> list[tuple[str, Labels, list[int], list[float]]]:
    """Each series with its points."""
    at = flat.bounds()
    return [(name, labels, flat.stamps[at[i]:at[i + 1]].tolist(), flat.values[at[i]:at[i + 1]].tolist())
            for i, (name, labels) in enumerate(zip(flat.names, flat.labels, strict=True))]


def test_columns_read_as_the_series_form() -> None:
    series_form = _batch()
    columns = as_columns(series_form)
    assert _rows(flatten(columns)) == _rows(flatten(series_form))
    assert flatten(columns).names == ["cpu.busy_percent", "disk.used_percent", "mem.used_percent"]  # no empty one
    both = pb.Samples(seq=1)
    both.CopyFrom(columns)
    both.series.append(ser("net.rx_bytes", [(5, 9.0)], interface="eth0"))
    assert _rows(flatten(both)) == _rows(flatten(pb.Samples(series=[both.series[0], *series_form.series])))


def test_the_key_cache_is_filled_once_and_bounded() -> None:
    cache: KeyCache = {}
    columns = as_columns(_batch())
    flat = flatten(columns, cache)
    assert sorted(name for name, _, _ in cache.values()) == [
        "cpu.busy_percent", "disk.used_percent", "empty.series", "mem.used_percent"]
    assert flat.hashes == [series_identity(n, lab) for n, lab in zip(flat.names, flat.labels, strict=True)]
    # A key found in the cache is not decoded again.
    cache[columns.keys[0]] = ("cpu.from_cache", (), 1)
    assert flatten(columns, cache).names[0] == "cpu.from_cache"
    full: KeyCache = {i.to_bytes(4, "little"): ("x", (), i) for i in range(KEY_CACHE_MAX)}
    flatten(columns, full)
    assert len(full) == 4  # emptied when full, then refilled by this batch


def _broken(**fields: object) -> pb.Samples:
    good = as_columns(_batch())
    for name, value in fields.items():
        if name in ("keys", "counts"):
            getattr(good, name)[:] = value  # type: ignore[index]
        else:
            setattr(good, name, value)
    return good


@pytest.mark.parametrize(("broken", "says"), [
    (_broken(counts=[2, 1, 0]), "4 series keys but 3 counts"),
    (_broken(values_le=b"\x00" * 44), "whole 8-byte numbers"),
    (_broken(timestamps_ms_le=b"\x00" * 40), "5 timestamps but 6 values"),
    (_broken(counts=[2, 1, 0, 2]), "the counts add up to 5 points but 6 were sent"),
    (_broken(keys=[b"\xff\xff", *as_columns(_batch()).keys[1:]]),
     "series key #0 (2 bytes) is not an encoded SeriesKey"),
])
def test_columns_that_do_not_fit_are_refused_with_the_reason(broken: pb.Samples, says: str) -> None:
    with pytest.raises(MalformedSamples, match=says.replace("(", r"\(").replace(")", r"\)")):
        flatten(broken)


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.binary(max_size=12), max_size=6), counts=st.lists(st.integers(0, 4), max_size=6),
       stamps=st.binary(max_size=64), values=st.binary(max_size=64))
def test_any_columns_are_read_consistently_or_refused(keys: list[bytes], counts: list[int], stamps: bytes,
                                                      values: bytes) -> None:
    msg = pb.Samples(seq=1, keys=keys, counts=counts, timestamps_ms_le=stamps, values_le=values)
    try:
        flat = flatten(pb.Samples.FromString(msg.SerializeToString()))
    except MalformedSamples:
        return
    assert len(flat.stamps) == len(flat.values) == sum(flat.sizes) == len(stamps) // 8
    assert len(flat.names) == len(flat.labels) == len(flat.sizes) == sum(1 for c in counts if c)


def test_export_writes_the_same_lines_for_both_forms() -> None:
    tags = HostTags(host_id="h-1", hostname="web-1", customer="acme")
    assert SampleEncoder().encode(tags, as_columns(_batch())) == SampleEncoder().encode(tags, _batch())


def test_columnar_batches_in_the_ingest_log_are_refolded_after_a_crash(store_url: str) -> None:
    ing = make(store_url)
    ing._commit([host()])
    b = NOW // 60 * 60 - 120
    sent = [pb.Samples(seq=seq, series=[ser("cpu.busy_percent", [(int((b + seq) * 1000), float(seq))])])
            for seq in (1, 2, 3)]
    outcomes: list[Outcome] = []
    ing._commit([Batch(host_id="h1", epoch="e1", seq=s.seq, done=outcomes.append, samples=as_columns(s),
                       payload=columns_message(s)) for s in sent])
    assert outcomes == [Outcome.ACCEPTED] * 3
    with ing.engine.connect() as conn:
        logged = [logged_samples(r[0]) for r in conn.exec_driver_sql("SELECT payload FROM ingest_log ORDER BY id")]
    assert [s.seq for s in logged] == [1, 2, 3] and all(len(s.keys) == 1 for s in logged)
    # Crash before any flush: a new writer refolds the columns from the ingest log.
    ing2 = make(store_url)
    assert ing2.recover() == 3
    assert tier_totals(ing2)[:2] == ((3, 6.0), (3, 6.0))


def test_columns_over_grpc_store_drop_and_refuse_like_series(store_url: str, tmp_path: Path) -> None:
    t = now_ms()
    good = pb.Samples(seq=1, series=[ser("cpu.busy_percent", [(t, 1.0), (t + 1, 3.0)]),
                                     ser("disk.used_percent", [(t, 50.0)], mount="/")])
    mixed = pb.Samples(seq=2, series=[ser("cpu.busy_percent", [(t + 2, math.nan), (t + 3, 1e309), (2**62, 1.0),
                                                               (t + 4, 2e300), (t + 5, 5.0)]),
                                      ser("nul\x00name", [(t, 1.0)])])

    async def scenario() -> None:
        async with running_collector(store_url, tmp_path) as app:
            acks = await converse(app, [hello("columns"), columns_message(good), columns_message(mixed)])
            assert acks[-1].seq == 2
            assert rejected_in(acks)[0] == {"non_finite_value": 2, "timestamp_out_of_range": 1,
                                            "value_out_of_range": 1, "nul_character": 1}
            app.ingestor.flush_now()
            with app.engine.connect() as conn:
                stored = conn.exec_driver_sql(
                    "SELECT s.name, SUM(r.count), SUM(r.sum) FROM rollup_1m r JOIN series s ON s.id = r.series_id "
                    "WHERE s.host_id = 'columns' GROUP BY s.name ORDER BY s.name").all()
            assert [tuple(r) for r in stored] == [("cpu.busy_percent", 3, 9.0), ("disk.used_percent", 1, 50.0)]
            # A broken batch ends its own stream with the reason; another agent's stream goes on.
            broken = pb.AgentMessage(sample_columns=_broken(counts=[2, 1, 0])).SerializeToString()
            results = await asyncio.gather(converse(app, [hello("broken"), broken]),
                                           converse(app, [hello("fine"), columns_message(good)]),
                                           return_exceptions=True)
            assert isinstance(results[0], grpc.aio.AioRpcError)
            assert results[0].code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "4 series keys but 3 counts" in (results[0].details() or "")
            assert not isinstance(results[1], BaseException) and results[1][-1].seq == 1

    asyncio.run(scenario())

