"""Batches written straight to the wire format read back as the columns they were built from."""

from __future__ import annotations

import math

import numpy as np

from agent.batch import BatchBuilder, varint
from agent.model import Sample, labels_of
from collector.store.samples import flatten
from protos.patrol.v1 import agent_pb2 as pb


def _samples(round_: int) -> list[Sample]:
    return [
        Sample.of("cpu.busy_percent", 12.5 + round_),
        Sample.of("disk.used_bytes", 2.0**40, mount="/", device="sda1", fstype="ext4"),
        Sample.of("top.rss_bytes", 1e9, process="naïve 进程"),  # non-ASCII labels
        Sample.of("net.rx_errors_total", 0.0, interface="eth0"),
        Sample("odd", -math.inf, labels_of({"empty": ""})),
        Sample("", 3.0),  # proto3 omits an empty name; the encoding must too, or at least read back equal
    ]


def _check(decoded: pb.AgentMessage, built: dict[tuple[str, tuple[tuple[str, str], ...]],
                                                 tuple[list[int], list[float]]],
           seq: int, spool: pb.SpoolStats | None) -> None:
    """The message is a columnar Samples holding exactly ``built``, as protobuf and the collector read it."""
    assert decoded.WhichOneof("payload") == "sample_columns"
    got = decoded.sample_columns
    assert got.seq == seq and not got.series
    assert got.HasField("spool") == (spool is not None) and (spool is None or got.spool == spool)
    keys = [pb.SeriesKey.FromString(k) for k in got.keys]
    assert [(k.name, dict(k.labels)) for k in keys] == [(name, dict(labels)) for name, labels in built]
    assert list(got.counts) == [len(ts) for ts, _ in built.values()]
    stamps = np.frombuffer(got.timestamps_ms_le, dtype="<i8").tolist()
    values = np.frombuffer(got.values_le, dtype="<f8").tolist()
    assert stamps == [t for ts, _ in built.values() for t in ts]
    assert values == [v for _, vs in built.values() for v in vs]
    flat = flatten(got)
    assert list(zip(flat.names, flat.labels, flat.sizes, strict=True)) == [
        (name, tuple(sorted(labels)), len(ts)) for (name, labels), (ts, _) in built.items()]


def test_encoded_batches_read_back_as_built() -> None:
    builder = BatchBuilder()
    spool = pb.SpoolStats(depth_batches=3, depth_bytes=4096, dropped_samples=7)
    for batch_no, rounds in enumerate((1, 3, 1, 2, 200)):  # series with one sample, several, and 200
        for r in range(rounds):
            builder.add(1_765_000_000_000 + 10_000 * r, _samples(r))
        builder.add(-1, [Sample("negative.timestamp", 1.0)])  # int64 below zero
        snapshot = {key: (list(ts), list(vs)) for key, (ts, vs) in builder._series.items()}
        batch = builder.take_batch()
        assert batch.count == sum(len(vs) for _, vs in snapshot.values())
        assert len(builder) == 0
        seq = 0 if batch_no == 0 else 1000 + batch_no  # seq 0 is proto3's default, left out
        stats = spool if batch_no % 2 else None
        _check(pb.AgentMessage.FromString(batch.encode(seq, stats)), snapshot, seq, stats)
        assert batch.value_sum() == sum(sum(vs) for _, vs in snapshot.values())


def test_an_empty_batch_is_a_columnar_samples_without_points() -> None:
    decoded = pb.AgentMessage.FromString(BatchBuilder().take_batch().encode(9))
    assert decoded.WhichOneof("payload") == "sample_columns" and decoded.sample_columns.seq == 9
    assert flatten(decoded.sample_columns).names == []


def test_take_still_returns_series_messages() -> None:
    builder = BatchBuilder()
    builder.add(5, [Sample.of("mem.used_bytes", 1.0), Sample.of("mem.used_bytes", 2.0)])
    builder.add(6, [Sample.of("mem.used_bytes", 3.0, host="a")])
    series = builder.take()
    assert [(s.name, dict(s.labels), list(s.timestamps_ms), list(s.values)) for s in series] == [
        ("mem.used_bytes", {}, [5, 5], [1.0, 2.0]), ("mem.used_bytes", {"host": "a"}, [6], [3.0])]
    assert len(builder) == 0 and builder.take() == []


def test_varint_matches_protobuf() -> None:
    for n in (0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -(2**63)):
        assert pb.Heartbeat(timestamp_ms=n).SerializeToString() == (b"\x08" + varint(n) if n else b"")
