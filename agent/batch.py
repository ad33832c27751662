"""Packs timestamped samples into ``Samples`` messages in their columnar form.

The agent writes each batch straight to protobuf's wire format (:meth:`Batch.encode`): building
protobuf messages and serializing them costs several times more than the measuring itself on a
quiet host. A batch is one encoded key per series (name and labels, kept from one batch to the next
since they rarely change), its point count, and all timestamps and values as two little-endian
arrays, which the collector reads without a Python object per series or per point.
:meth:`BatchBuilder.take` returns ``Series`` messages for callers that want objects.
"""

from __future__ import annotations

import sys
from array import array

from agent.model import Labels, Sample
from protos.patrol.v1 import agent_pb2 as pb

SeriesKey = tuple[str, Labels]

# Wire-format tags (field number << 3 | wire type; 2 = length-delimited, 0 = varint).
_SERIES_NAME = b"\x0a"
_SERIES_LABEL = b"\x12"
_ENTRY_KEY = b"\x0a"
_ENTRY_VALUE = b"\x12"
_SAMPLES_SEQ = b"\x08"
_SAMPLES_SPOOL = b"\x1a"
_SAMPLES_KEY = b"\x22"
_SAMPLES_COUNTS = b"\x2a"
_SAMPLES_TIMESTAMPS_LE = b"\x32"
_SAMPLES_VALUES_LE = b"\x3a"
_MESSAGE_SAMPLE_COLUMNS = b"\x3a"
_LITTLE_ENDIAN = sys.byteorder == "little"


def varint(n: int) -> bytes:
    """``n`` as a protobuf varint; negative numbers as their 64-bit two's complement (int64)."""
    if n < 0:
        n += 1 << 64
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    return tag + varint(len(data)) + data


def series_header(name: str, labels: Labels) -> bytes:
    """The encoded ``name`` and ``labels`` fields of a ``Series``, which are a ``SeriesKey``."""
    parts = [_field(_SERIES_NAME, name.encode())] if name else []
    for key, value in labels:
        parts.append(_field(_SERIES_LABEL, _field(_ENTRY_KEY, key.encode()) + _field(_ENTRY_VALUE, value.encode())))
    return b"".join(parts)


class Batch:
    """The samples of one flush, by series, ready to be encoded once the spool assigns a seq."""

    __slots__ = ("_headers", "count", "series")

    def __init__(self, series: dict[SeriesKey, tuple[list[int], list[float]]], count: int,
                 headers: dict[SeriesKey, bytes]) -> None:
        self.series = series
        self.count = count
        self._headers = headers

    def value_sum(self) -> float:
        return sum(sum(values) for _, values in self.series.values())

    def encode(self, seq: int, spool: pb.SpoolStats | None = None) -> bytes:
        """The serialized ``AgentMessage{sample_columns: Samples{seq, keys, counts, timestamps_ms_le,
        values_le, spool}}``."""
        parts = [_SAMPLES_SEQ + varint(seq)] if seq else []
        headers = self._headers
        counts: list[int] = []
        stamps = array("q")
        values = array("d")
        for key, (timestamps, vals) in self.series.items():
            parts.append(headers[key])
            counts.append(len(timestamps))
            stamps.extend(timestamps)
            values.extend(vals)
        if counts:
            if not _LITTLE_ENDIAN:
                stamps.byteswap()
                values.byteswap()
            packed = bytes(counts) if max(counts) < 0x80 else b"".join([varint(n) for n in counts])
            parts += (_field(_SAMPLES_COUNTS, packed), _field(_SAMPLES_TIMESTAMPS_LE, stamps.tobytes()),
                      _field(_SAMPLES_VALUES_LE, values.tobytes()))
        if spool is not None:
            parts.append(_field(_SAMPLES_SPOOL, spool.SerializeToString()))
        return _field(_MESSAGE_SAMPLE_COLUMNS, b"".join(parts))


class BatchBuilder:
    """Collects samples between flushes; each series' name and labels appear once per batch."""

    def __init__(self) -> None:
        self._series: dict[SeriesKey, tuple[list[int], list[float]]] = {}
        # Encoded names and labels of the series in the last batch (so it stays bounded when
        # series come and go, e.g. the processes of the top collector).
        self._headers: dict[SeriesKey, bytes] = {}
        self.count = 0

    def add(self, ts_ms: int, samples: list[Sample]) -> None:
        for s in samples:
            entry = self._series.get((s.name, s.labels))
            if entry is None:
                entry = self._series[(s.name, s.labels)] = ([], [])
            entry[0].append(ts_ms)
            entry[1].append(s.value)
        self.count += len(samples)

    def __len__(self) -> int:
        return self.count

    def take_batch(self) -> Batch:
        """The accumulated samples as a :class:`Batch`, leaving the builder empty."""
        old = self._headers
        headers = {key: old.get(key) or _field(_SAMPLES_KEY, series_header(*key)) for key in self._series}
        batch = Batch(self._series, self.count, headers)
        self._headers = headers
        self._series = {}
        self.count = 0
        return batch

    def take(self) -> list[pb.Series]:
        """The accumulated series as messages, leaving the builder empty."""
        out = [pb.Series(name=name, labels=dict(labels), timestamps_ms=ts, values=vs)
               for (name, labels), (ts, vs) in self._series.items()]
        self._series = {}
        self.count = 0
        return out
