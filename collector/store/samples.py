"""A Samples batch read out of its message once, as flat arrays: what the ingest door checks and the
rollup aggregator folds, without a Python object per point.

A batch comes in one of two forms (``protos/patrol/v1/agent.proto``): one ``Series`` message per
series, or columns (an encoded key per series, its point count, and all timestamps and values as
little-endian arrays). The columns are read with one slice and two ``numpy.frombuffer`` calls, and a
key seen before is looked up instead of decoded again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from google.protobuf.message import DecodeError
from numpy.typing import NDArray

from protos.patrol.v1 import agent_pb2 as pb

Labels = tuple[tuple[str, str], ...]  # a series' label pairs, sorted
KeyCache = dict[bytes, tuple[str, Labels, int]]  # encoded SeriesKey -> name, sorted labels, identity
KEY_CACHE_MAX = 100_000  # a key cache is emptied when it grows past this many keys


def series_identity(name: str, labels: Labels) -> int:
    """A series' identity within a host (``labels``: its sorted label pairs), for set membership."""
    return hash((name, labels))


class MalformedSamples(ValueError):
    """A Samples batch whose fields do not fit together; nothing of it can be stored."""


class UnpairedSeries(MalformedSamples):
    """A series whose timestamps and values do not pair up."""

    def __init__(self, name: str, stamps: int, values: int) -> None:
        super().__init__(f"series {name[:200]!r} has {stamps} timestamps but {values} values")
        self.name = name


@dataclass(frozen=True, slots=True)
class FlatSamples:
    """Every series of a batch that has points: its name, sorted labels, identity (:func:`series_identity`)
    and number of points; and all their stamps (unix ms) and values, series after series."""

    names: list[str]
    labels: list[Labels]
    hashes: list[int]
    sizes: list[int]
    stamps: NDArray[np.int64]
    values: NDArray[np.float64]

    def bounds(self) -> NDArray[np.int64]:
        """Where each series' points start in ``stamps`` and ``values``, and where the last one ends."""
        out = np.zeros(len(self.sizes) + 1, dtype=np.int64)
        np.cumsum(self.sizes, out=out[1:])
        return out


def samples_of(msg: pb.AgentMessage) -> pb.Samples | None:
    """The Samples batch an AgentMessage carries, in either form; None for any other message."""
    kind = msg.WhichOneof("payload")
    if kind == "samples":
        return msg.samples
    if kind == "sample_columns":
        return msg.sample_columns
    return None


def logged_samples(payload: bytes) -> pb.Samples:
    """The Samples batch of an AgentMessage as the ingest log keeps it (empty if it holds none); raises
    ``DecodeError`` for bytes that are not an AgentMessage."""
    return samples_of(pb.AgentMessage.FromString(payload)) or pb.Samples()


def has_columns(samples: pb.Samples) -> bool:
    """True when the batch holds points (or keys) in its columnar fields."""
    return bool(samples.keys or samples.counts or samples.timestamps_ms_le or samples.values_le)


def flatten(samples: Any, keys: KeyCache | None = None) -> FlatSamples:
    """Read a ``patrol.v1.Samples`` message, series first, then columns; raises
    :class:`MalformedSamples`. ``keys`` remembers decoded series keys between batches."""
    rows = _series_rows(samples) if len(samples.series) else None
    if not has_columns(samples):
        return rows or FlatSamples([], [], [], [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    columns = _column_rows(samples, {} if keys is None else keys)
    if rows is None:
        return columns
    return FlatSamples(rows.names + columns.names, rows.labels + columns.labels, rows.hashes + columns.hashes,
                       rows.sizes + columns.sizes, np.concatenate((rows.stamps, columns.stamps)),
                       np.concatenate((rows.values, columns.values)))


def _series_rows(samples: Any) -> FlatSamples:
    """Each repeated field is read once, as a list (a slice copies it in one C loop), and the points of
    all series go into numpy from one list each."""
    names: list[str] = []
    labels: list[Labels] = []
    sizes: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    for s in samples.series:
        ts = s.timestamps_ms[:]
        vs = s.values[:]
        n = len(ts)
        if n != len(vs):
            raise UnpairedSeries(s.name, n, len(vs))
        if n:
            pairs = s.labels
            names.append(s.name)
            labels.append(tuple(sorted(pairs.items())) if pairs else ())
            sizes.append(n)
            stamps += ts
            values += vs
    return FlatSamples(names, labels, [series_identity(n, lab) for n, lab in zip(names, labels, strict=True)], sizes,
                       np.array(stamps, dtype=np.int64), np.array(values, dtype=np.float64))


def _column_rows(samples: Any, cache: KeyCache) -> FlatSamples:
    keys = samples.keys[:]
    counts = samples.counts[:]
    raw_stamps = samples.timestamps_ms_le
    raw_values = samples.values_le
    if len(keys) != len(counts):
        raise MalformedSamples(f"{len(keys)} series keys but {len(counts)} counts")
    if len(raw_stamps) % 8 or len(raw_values) % 8:
        raise MalformedSamples(f"timestamps_ms_le ({len(raw_stamps)} bytes) and values_le ({len(raw_values)} "
                               "bytes) must hold whole 8-byte numbers")
    points = len(raw_stamps) // 8
    if len(raw_values) // 8 != points:
        raise MalformedSamples(f"{points} timestamps but {len(raw_values) // 8} values")
    if sum(counts) != points:
        raise MalformedSamples(f"the counts add up to {sum(counts)} points but {points} were sent")
    found = list(map(cache.get, keys))
    if None in found:
        for i, hit in enumerate(found):
            if hit is None:
                found[i] = hit = _decode_key(i, keys[i])
                if len(cache) >= KEY_CACHE_MAX:
                    cache.clear()
                cache[keys[i]] = hit
    hits = cast(list[tuple[str, Labels, int]], found)
    if 0 in counts:  # a key without points stands for no series
        hits = [hit for hit, n in zip(hits, counts, strict=True) if n]
        counts = [n for n in counts if n]
    # astype copies: the arrays own their memory, in native byte order, whatever the host's.
    return FlatSamples([h[0] for h in hits], [h[1] for h in hits], [h[2] for h in hits], counts,
                       np.frombuffer(raw_stamps, dtype="<i8").astype(np.int64),
                       np.frombuffer(raw_values, dtype="<f8").astype(np.float64))


def _decode_key(i: int, key: bytes) -> tuple[str, Labels, int]:
    try:
        msg = pb.SeriesKey.FromString(key)
    except DecodeError as e:
        raise MalformedSamples(f"series key #{i} ({len(key)} bytes) is not an encoded SeriesKey: {e}") from None
    pairs = msg.labels
    labels = tuple(sorted(pairs.items())) if pairs else ()
    return msg.name, labels, series_identity(msg.name, labels)
