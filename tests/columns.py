"""The columnar form of a Samples batch built from its series form, as an agent sends it."""

from __future__ import annotations

import numpy as np

from protos.patrol.v1 import agent_pb2 as pb


def as_columns(samples: pb.Samples) -> pb.Samples:
    """``samples`` (series form) as columns: one SeriesKey per series, its count, and little-endian arrays."""
    out = pb.Samples(seq=samples.seq)
    if samples.HasField("spool"):
        out.spool.CopyFrom(samples.spool)
    for s in samples.series:
        out.keys.append(pb.SeriesKey(name=s.name, labels=s.labels).SerializeToString(deterministic=True))
        out.counts.append(len(s.timestamps_ms))
    out.timestamps_ms_le = np.array([t for s in samples.series for t in s.timestamps_ms], dtype="<i8").tobytes()
    out.values_le = np.array([v for s in samples.series for v in s.values], dtype="<f8").tobytes()
    return out


def columns_message(samples: pb.Samples) -> bytes:
    """The encoded AgentMessage carrying ``samples`` in columns, under ``sample_columns``."""
    return pb.AgentMessage(sample_columns=as_columns(samples)).SerializeToString()
