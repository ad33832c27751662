"""Packs timestamped samples into series-oriented ``Samples`` messages.

The agent writes each batch straight to protobuf's wire format (:meth:`Batch.encode`): building a
``Series`` message per series and serializing it costs several times more than the measuring
itself on a quiet host. A series' name and labels are the same batch after batch, so their encoding
is kept from one batch to the next; only timestamps and values (packed) are encoded each time.
:meth:`BatchBuilder.take` still returns ``Series`` messages for callers that want objects.
"""

from __future__ import annotations

import struct
import sys
from array import array

from agent.model import Labels, Sample
from protos.patrol.v1 import agent_pb2 as pb

SeriesKey = tuple[str, Labels]

# Wire-format tags (field number << 3 | wire type; 2 = length-delimited, 0 = varint).
_SERIES_NAME = b"\x0a"
_SERIES_LABEL = b"\x12"
_SERIES_TIMESTAMPS = b"\x1a"
_SERIES_VALUES = b"\x22"
_ENTRY_KEY = b"\x0a"
_ENTRY_VALUE = b"\x12"
_SAMPLES_SEQ = b"\x08"
_SAMPLES_SERIES = b"\x12"
_SAMPLES_SPOOL = b"\x1a"
_MESSAGE_SAMPLES = b"\x12"
_LITTLE_ENDIAN = sys.byteorder == "little"
_ONE_DOUBLE = struct.Struct("<d")


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
    """The encoded ``name`` and ``labels`` fields of a ``Series``."""
    parts = [_field(_SERIES_NAME, name.encode())] if name else []
    for key, value in labels:
        parts.append(_field(_SERIES_LABEL, _field(_ENTRY_KEY, key.encode()) + _field(_ENTRY_VALUE, value.encode())))
    return b"".join(parts)


def _packed_doubles(values: list[float]) -> bytes:
    packed = array("d", values)
    if not _LITTLE_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


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
        """The serialized ``AgentMessage{samples: Samples{seq, series, spool}}``."""
        parts = [_SAMPLES_SEQ + varint(seq)] if seq else []
        headers = self._headers
        # Most series hold one sample, taken in the same round as many others: the encoded
        # timestamp field (and the values field's tag and length) is shared between them.
        single: dict[int, bytes] = {}
        pack = _ONE_DOUBLE.pack
        for key, (timestamps, values) in self.series.items():
            if len(timestamps) == 1:
                tail = single.get(timestamps[0])
                if tail is None:
                    tail = single[timestamps[0]] = _field(_SERIES_TIMESTAMPS, varint(timestamps[0])) + b"\x22\x08"
                body = headers[key] + tail + pack(values[0])
            else:
                body = b"".join((headers[key], _field(_SERIES_TIMESTAMPS, b"".join([varint(t) for t in timestamps])),
                                 _field(_SERIES_VALUES, _packed_doubles(values))))
            parts.append(_field(_SAMPLES_SERIES, body))
        if spool is not None:
            parts.append(_field(_SAMPLES_SPOOL, spool.SerializeToString()))
        return _field(_MESSAGE_SAMPLES, b"".join(parts))


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
        headers = {key: old.get(key) or series_header(*key) for key in self._series}
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
