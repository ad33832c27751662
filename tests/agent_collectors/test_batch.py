"""Batches written straight to the wire format read back as the messages protobuf would build."""

from __future__ import annotations

import math

from agent.batch import BatchBuilder, varint
from agent.model import Sample, labels_of
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


def _expected(builder_series: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[list[int], list[float]]],
              seq: int, spool: pb.SpoolStats | None) -> pb.AgentMessage:
    series = [pb.Series(name=name, labels=dict(labels), timestamps_ms=ts, values=vs)
              for (name, labels), (ts, vs) in builder_series.items()]
    samples = pb.Samples(seq=seq, series=series)
    if spool is not None:
        samples.spool.CopyFrom(spool)
    return pb.AgentMessage(samples=samples)


def test_encoded_batches_read_back_as_built_messages() -> None:
    builder = BatchBuilder()
    spool = pb.SpoolStats(depth_batches=3, depth_bytes=4096, dropped_samples=7)
    for batch_no, rounds in enumerate((1, 3, 1, 2)):  # series with one sample and with several
        for r in range(rounds):
            builder.add(1_765_000_000_000 + 10_000 * r, _samples(r))
        builder.add(-1, [Sample("negative.timestamp", 1.0)])  # int64 below zero: ten-byte varint
        snapshot = {key: (list(ts), list(vs)) for key, (ts, vs) in builder._series.items()}
        batch = builder.take_batch()
        assert batch.count == sum(len(vs) for _, vs in snapshot.values())
        assert len(builder) == 0
        seq = 0 if batch_no == 0 else 1000 + batch_no  # seq 0 is proto3's default, left out
        stats = spool if batch_no % 2 else None
        decoded = pb.AgentMessage.FromString(batch.encode(seq, stats))
        assert decoded == _expected(snapshot, seq, stats)
        assert batch.value_sum() == sum(sum(vs) for _, vs in snapshot.values())


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
