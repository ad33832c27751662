"""The agent's durable disk spool: every upstream batch is on disk before it is sent.

The agent appends each serialized ``AgentMessage`` (Samples or Events) here, streams it, and forgets
it only when the collector acks its seq. A collector restart, a network outage or an agent crash
therefore costs no data up to the spool's bound; past the bound the oldest data is dropped and counted.

On-disk layout (one directory per agent)::

    state.json                  acked seq, next seq, epoch, drop counters (replaced atomically)
    lock                        flock'd by the process that owns the spool
    seg-<first_seq:020d>.log    append-only segments: a 24-byte header, then records

Segment header: ``b"PTRLSEG1"`` + the epoch as 16 raw bytes, so the epoch survives a lost state file.
Record: ``magic(4) length(u32) seq(u64) created_ms(i64) kind(u8) count(u32) crc32(u32) payload``,
little-endian, the CRC covering everything before it plus the payload. A record is complete only if
its CRC matches, so a torn write (crash, power loss, full disk) is recognisable and is cut away on open.

Drop accounting: a record evicted by the bound is counted as dropped when it is evicted. If it had
already been handed to the stream (read by :meth:`Spool.pending`) it may still arrive: when an ack
then covers it on that same stream, the collector has it, and the count is taken back. The records
of a stream that ended before their ack stay counted, since nothing will ever tell the agent their
fate (the collector counts the gaps in the seqs it stored). The counters are persisted with every
change, so a crash never forgets a drop.

Run ``python -m agent.spool DIR`` to open a spool (repairing torn tails) and print its state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import re
import struct
import sys
import threading
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, one agent per directory is then up to the operator
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("patrol.agent.spool")

DEFAULT_MAX_BYTES = 256 * 2**20
DEFAULT_MAX_AGE = timedelta(days=7)
DEFAULT_SEGMENT_BYTES = 4 * 2**20


def _new_epoch() -> str:
    # What uuid.uuid4().hex gives (32 random hex digits), without importing uuid into the agent.
    return os.urandom(16).hex()


class RecordKind(IntEnum):
    """What a spooled batch carries; decides which drop counter its ``count`` goes to."""

    OTHER = 0
    SAMPLES = 1
    EVENTS = 2


class SpoolError(Exception):
    """The spool cannot be used as configured; the message names the path and what to do."""


@dataclass(frozen=True, slots=True)
class SpoolStats:
    depth_batches: int
    depth_bytes: int
    dropped_batches: int
    dropped_samples: int
    dropped_events: int
    corrupt_records: int
    oldest_created: datetime | None
    epoch: str
    acked_seq: int
    next_seq: int
    disk_bytes: int = 0
    segments: int = 0


# ---------------------------------------------------------------------------------------- format

SEGMENT_MAGIC = b"PTRLSEG1"
RECORD_MAGIC = b"\x9bPRc"
_SEG_HEADER = struct.Struct("<8s16s")
_REC_HEAD = struct.Struct("<4sIQqBI")  # everything the CRC covers before the payload
_REC_CRC = struct.Struct("<I")
REC_HEADER_SIZE = _REC_HEAD.size + _REC_CRC.size
_U32_MAX = 0xFFFFFFFF

_SEGMENT_NAME = re.compile(r"^seg-(\d{20})\.log$")
_TMP_NAME = re.compile(r"^(?:seg-\d{20}\.log|state\.json)\.tmp$")
_STATE_NAME = "state.json"
_LOCK_NAME = "lock"
_STATE_FORMAT = 1
# Records read per lock acquisition in pending(): bounds both the lock hold time and the memory.
_READ_CHUNK_RECORDS = 256
_READ_CHUNK_BYTES = 4 * 2**20


def encode_record(seq: int, created_ms: int, kind: int, count: int, payload: bytes) -> bytes:
    head = _REC_HEAD.pack(RECORD_MAGIC, len(payload), seq, created_ms, kind, count)
    crc = zlib.crc32(payload, zlib.crc32(head))
    return b"".join((head, _REC_CRC.pack(crc), payload))


@dataclass(frozen=True, slots=True)
class _RecordHead:
    seq: int
    created_ms: int
    kind: int
    count: int
    size: int  # header + payload


def _parse_record(data: bytes | mmap.mmap, pos: int, end: int) -> _RecordHead | None:
    """The record starting at ``pos`` if it is complete and its CRC matches, else None."""
    if end - pos < REC_HEADER_SIZE:
        return None
    magic, length, seq, created_ms, kind, count = _REC_HEAD.unpack_from(data, pos)
    if magic != RECORD_MAGIC or seq == 0 or length > end - pos - REC_HEADER_SIZE:
        return None
    (crc,) = _REC_CRC.unpack_from(data, pos + _REC_HEAD.size)
    body = pos + REC_HEADER_SIZE
    if zlib.crc32(data[body : body + length], zlib.crc32(data[pos : pos + _REC_HEAD.size])) != crc:
        return None
    return _RecordHead(seq, created_ms, kind, count, REC_HEADER_SIZE + length)


def _resync(data: mmap.mmap, start: int, end: int, last_seq: int) -> int | None:
    """Offset of the next valid record at or after ``start`` whose seq follows ``last_seq``."""
    pos = data.find(RECORD_MAGIC, start, end)
    while pos != -1:
        rec = _parse_record(data, pos, end)
        if rec is not None and rec.seq > last_seq:
            return pos
        pos = data.find(RECORD_MAGIC, pos + 1, end)
    return None


# ---------------------------------------------------------------------------------------- segments


@dataclass(eq=False, slots=True)
class _Segment:
    """Index of one segment file: enough to stream, ack and account for drops without re-reading it."""

    path: Path
    first_seq: int
    size: int = 0
    seqs: array[int] = field(default_factory=lambda: array("Q"))
    offsets: array[int] = field(default_factory=lambda: array("Q"))
    sizes: array[int] = field(default_factory=lambda: array("I"))
    created: array[int] = field(default_factory=lambda: array("q"))
    kinds: array[int] = field(default_factory=lambda: array("B"))
    counts: array[int] = field(default_factory=lambda: array("I"))

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else self.first_seq - 1

    def add(self, seq: int, offset: int, size: int, created_ms: int, kind: int, count: int) -> None:
        self.seqs.append(seq)
        self.offsets.append(offset)
        self.sizes.append(size)
        self.created.append(created_ms)
        self.kinds.append(kind)
        self.counts.append(count)


@dataclass(slots=True)
class _Scan:
    segment: _Segment
    epoch: str | None  # from the segment header; None when the header is damaged
    corrupt: int  # damaged regions found (a torn tail counts as one)
    valid_end: int  # offset just past the last valid record
    file_size: int
    interior_damage: bool  # damage before a valid record: needs a rewrite, a truncate is not enough


def _scan_segment(path: Path, first_seq: int, after_seq: int) -> _Scan:
    """Index every valid record of a segment file, resynchronising over damaged regions."""
    segment = _Segment(path, first_seq)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return _Scan(segment, None, 1, 0, 0, False)
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            epoch: str | None = None
            if size >= _SEG_HEADER.size:
                magic, raw_epoch = _SEG_HEADER.unpack_from(data, 0)
                if magic == SEGMENT_MAGIC:
                    epoch = raw_epoch.hex()
            last = max(after_seq, first_seq - 1)
            corrupt, interior = 0, False
            pos: int | None = _SEG_HEADER.size
            if epoch is None:
                corrupt = 1
                pos = _resync(data, 0, size, last)
            valid_end = _SEG_HEADER.size if epoch is not None else 0
            while pos is not None and pos < size:
                rec = _parse_record(data, pos, size)
                if rec is not None and rec.seq > last:
                    if pos != valid_end:
                        interior = True
                    segment.add(rec.seq, pos, rec.size, rec.created_ms, rec.kind, rec.count)
                    last = rec.seq
                    pos += rec.size
                    valid_end = pos
                    continue
                corrupt += 1
                pos = _resync(data, pos + 1, size, last)
            segment.size = valid_end
            return _Scan(segment, epoch, corrupt, valid_end, size, interior)


# ---------------------------------------------------------------------------------------- state file


@dataclass(frozen=True, slots=True)
class _EvictedInFlight:
    """A record dropped by the bound after the stream had taken it: it may still be acked."""

    seq: int
    kind: int
    count: int


@dataclass(slots=True)
class _State:
    epoch: str
    next_seq: int = 1
    acked_seq: int = 0
    dropped_seq: int = 0  # records up to here were dropped by the bound (not acked)
    dropped_batches: int = 0
    dropped_samples: int = 0
    dropped_events: int = 0
    corrupt_records: int = 0

    def to_json(self) -> bytes:
        doc = {"format": _STATE_FORMAT, **{name: getattr(self, name) for name in self.__slots__}}
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> _State:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != _STATE_FORMAT:
            raise ValueError(f"unknown state format {doc.get('format') if isinstance(doc, dict) else doc!r}")
        epoch = doc.get("epoch")
        if not isinstance(epoch, str) or not re.fullmatch(r"[0-9a-f]{32}", epoch):
            raise ValueError(f"bad epoch {epoch!r}")
        values: dict[str, int] = {}
        for name in cls.__slots__:
            if name == "epoch":
                continue
            value = doc.get(name)
            if type(value) is not int or value < 0:
                raise ValueError(f"bad {name} {value!r}")
            values[name] = value
        if values["next_seq"] < 1:
            raise ValueError(f"bad next_seq {values['next_seq']}")
        return cls(epoch=epoch, **values)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_sync_data = getattr(os, "fdatasync", os.fsync)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# ---------------------------------------------------------------------------------------- the spool


class Spool:
    """Durable, bounded, append-only queue of serialized upstream batches, keyed by seq.

    Thread-safe: one thread appends while another streams :meth:`pending` and calls :meth:`ack`.
    Seqs start at 1 and only ever grow within an :attr:`epoch`; a new epoch is created only with a
    new spool (or when every trace of the old one is gone).
    """

    def __init__(
        self,
        path: Path | str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: timedelta = DEFAULT_MAX_AGE,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"spool max_bytes must be positive, got {max_bytes}")
        if segment_bytes <= 0:
            raise ValueError(f"spool segment_bytes must be positive, got {segment_bytes}")
        if max_age <= timedelta(0):
            raise ValueError(f"spool max_age must be positive, got {max_age}")
        self.path = Path(path)
        self._max_bytes = max_bytes
        self._max_age_ms = int(max_age.total_seconds() * 1000)
        # The size bound drops whole segments: keep them a fraction of the bound so a drop is not
        # most of the spool at once.
        self._segment_bytes = max(1, min(segment_bytes, max_bytes // 4))
        self._fsync = fsync
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._active: _Segment | None = None
        self._active_fd: int | None = None
        self._lock_fd: int | None = None
        self._bad: set[int] = set()  # seqs whose bytes went bad after open; never sent
        # The stream's reading pass: the highest seq pending() has handed out since the reader last
        # started over from an earlier seq, and the records of that pass the bound evicted since.
        self._handed_out_seq = 0
        self._evicted_in_flight: list[_EvictedInFlight] = []
        self._pending_batches = 0
        self._pending_bytes = 0
        self._disk_bytes = 0
        self._closed = False
        self._state = _State(epoch=_new_epoch())
        try:
            self._open()
        except BaseException:
            self._release_handles()
            raise

    # -------------------------------------------------------------------------- public API

    @property
    def epoch(self) -> str:
        return self._state.epoch

    @property
    def acked_seq(self) -> int:
        return self._state.acked_seq

    @property
    def next_seq(self) -> int:
        return self._state.next_seq

    def append(self, payload: bytes, kind: int, count: int) -> int:
        """Durably store an already-serialized batch; returns its seq."""
        return self.append_with(lambda _seq: payload, kind, count)

    def append_with(self, builder: Callable[[int], bytes], kind: int, count: int) -> int:
        """Assign the next seq, serialize with ``builder(seq)``, store durably; returns the seq.

        When this returns the record is written and flushed (and fsync'd when enabled), so the
        caller may send it. The bound is enforced afterwards, which may drop the oldest records.
        """
        kind = RecordKind(kind)
        if not 0 <= count <= _U32_MAX:
            raise ValueError(f"spool record count must be in 0..{_U32_MAX}, got {count}")
        with self._lock:
            self._check_open()
            seq = self._state.next_seq
            payload = builder(seq)
            if not isinstance(payload, bytes | bytearray | memoryview):
                raise TypeError(f"spool builder must return bytes, got {type(payload).__name__}")
            payload = bytes(payload)
            if len(payload) > _U32_MAX - REC_HEADER_SIZE:
                raise ValueError(f"spool record of {len(payload)} bytes is too large (max 4 GiB)")
            created_ms = self._now_ms()
            record = encode_record(seq, created_ms, kind, count, payload)
            segment = self._segment_for(len(record), seq)
            offset = segment.size
            self._write_record(segment, record)
            segment.add(seq, offset, len(record), created_ms, kind, count)
            self._state.next_seq = seq + 1
            self._pending_batches += 1
            self._pending_bytes += len(record)
            self._enforce_bounds()
            return seq

    def pending(self, after_seq: int = 0, limit: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, payload)`` of records not yet acked with seq > after_seq, in seq order.

        The lock is taken per chunk, not for the whole iteration: records acked or dropped while
        iterating are not yielded any more, records appended meanwhile are. What it yields counts as
        handed to the stream; a call with an ``after_seq`` below that starts a new stream's pass.
        """
        with self._lock:
            self._start_reading_after(after_seq)
        cursor = after_seq
        remaining = limit
        while remaining is None or remaining > 0:
            want = _READ_CHUNK_RECORDS if remaining is None else min(remaining, _READ_CHUNK_RECORDS)
            with self._lock:
                self._check_open()
                start = max(cursor, self._floor)
                chunk, last_examined = self._read_after(start, want)
                if chunk:
                    self._handed_out_seq = max(self._handed_out_seq, chunk[-1][0])
            yield from chunk
            if last_examined == start:
                return  # nothing left past the cursor
            cursor = last_examined
            if remaining is not None:
                remaining -= len(chunk)

    def ack(self, seq: int) -> None:
        """The collector has everything up to and including ``seq``: forget it, durably."""
        with self._lock:
            self._check_open()
            if seq <= self._state.acked_seq:
                return  # a late or repeated ack
            if seq >= self._state.next_seq:
                log.warning(
                    "spool ack beyond the last assigned seq path=%s ack=%d last_seq=%d",
                    self.path,
                    seq,
                    self._state.next_seq - 1,
                )
                seq = self._state.next_seq - 1
                if seq <= self._state.acked_seq:
                    return
            self._refund_delivered(seq)
            self._advance_floor(seq, dropped=False)
            self._delete_consumed_segments()
            self._save_state()

    def enforce_bounds(self) -> None:
        """Apply the size and age bound now (append does this too); an idle agent may call it."""
        with self._lock:
            self._check_open()
            self._enforce_bounds()

    def stats(self) -> SpoolStats:
        with self._lock:
            state = self._state
            oldest = self._oldest_pending()
            return SpoolStats(
                depth_batches=self._pending_batches,
                depth_bytes=self._pending_bytes,
                dropped_batches=state.dropped_batches,
                dropped_samples=state.dropped_samples,
                dropped_events=state.dropped_events,
                corrupt_records=state.corrupt_records,
                oldest_created=None if oldest is None else datetime.fromtimestamp(oldest / 1000, UTC),
                epoch=state.epoch,
                acked_seq=state.acked_seq,
                next_seq=state.next_seq,
                disk_bytes=self._disk_bytes,
                segments=len(self._segments),
            )

    def close(self) -> None:
        """Persist the state and release the files; further use raises :class:`SpoolError`."""
        with self._lock:
            if self._closed:
                return
            self._save_state()
            self._release_handles()
            self._closed = True

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r}, epoch={self.epoch}, next_seq={self.next_seq})"

    # -------------------------------------------------------------------------- opening

    def _open(self) -> None:
        self._prepare_directory()
        state = self._load_state()
        scans = self._scan_segments()
        if state is None:
            state = self._rebuild_state(scans)
        self._state = state
        scans = self._set_aside_foreign(scans)
        for scan in scans:
            segment = self._repair(scan)
            if segment is not None:
                self._segments.append(segment)
                self._disk_bytes += segment.size
                state.next_seq = max(state.next_seq, segment.last_seq + 1, segment.first_seq)
        state.corrupt_records += sum(scan.corrupt for scan in scans)
        state.next_seq = max(state.next_seq, state.acked_seq + 1)
        floor = self._floor
        for segment in self._segments:
            for k in range(bisect_right(segment.seqs, floor), len(segment.seqs)):
                self._pending_batches += 1
                self._pending_bytes += segment.sizes[k]
        if self._segments and self._segments[-1].size >= _SEG_HEADER.size:
            self._activate(self._segments[-1])
        self._delete_consumed_segments()
        if not self._save_state():
            raise SpoolError(
                f"cannot write the spool state file {self.path / _STATE_NAME}; "
                "check free disk space and the agent's write access to the spool directory"
            )
        self._enforce_bounds()
        log.info(
            "spool opened path=%s epoch=%s next_seq=%d acked_seq=%d depth_batches=%d depth_bytes=%d",
            self.path,
            state.epoch,
            state.next_seq,
            state.acked_seq,
            self._pending_batches,
            self._pending_bytes,
        )

    def _prepare_directory(self) -> None:
        advice = "point the agent's spool path at a directory the agent's user can write"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create spool directory {self.path}: {exc.strerror or exc}; {advice}") from exc
        if not self.path.is_dir():
            raise SpoolError(f"spool path {self.path} exists but is not a directory; {advice}")
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise SpoolError(f"spool directory {self.path} is not writable; {advice}")
        lock_path = self.path / _LOCK_NAME
        try:
            self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SpoolError(f"spool directory {self.path} is not writable: {exc.strerror or exc}; {advice}") from exc
        if fcntl is None:
            return
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(self._lock_fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise SpoolError(
                f"spool directory {self.path} is in use by another process (pid {owner}); "
                "run one agent per spool directory or give this one another spool path"
            ) from exc
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)

    def _load_state(self) -> _State | None:
        state_path = self.path / _STATE_NAME
        try:
            raw = state_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning(
                "spool state file unreadable, rebuilding it from the segments path=%s error=%s", state_path, exc
            )
            return None
        try:
            return _State.from_json(raw)
        except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            log.warning("spool state file corrupt, rebuilding it from the segments path=%s error=%s", state_path, exc)
            return None

    def _scan_segments(self) -> list[_Scan]:
        named: list[tuple[int, Path]] = []
        for entry in sorted(self.path.iterdir()):
            match = _SEGMENT_NAME.match(entry.name)
            if match and entry.is_file():
                named.append((int(match.group(1)), entry))
            elif _TMP_NAME.match(entry.name):
                with contextlib.suppress(OSError):  # a write interrupted before its rename
                    entry.unlink()
            elif entry.name not in (_STATE_NAME, _LOCK_NAME):
                log.warning("spool directory holds a file that is not part of the spool, ignoring it path=%s", entry)
        scans: list[_Scan] = []
        last_seq = 0
        for first_seq, seg_path in sorted(named):
            try:
                scan = _scan_segment(seg_path, first_seq, last_seq)
            except OSError as exc:
                raise SpoolError(
                    f"cannot read spool segment {seg_path}: {exc.strerror or exc}; "
                    "check the agent's access to the spool directory"
                ) from exc
            if scan.corrupt:
                log.warning(
                    "spool segment damaged, keeping its valid records path=%s corrupt_regions=%d "
                    "valid_records=%d valid_bytes=%d file_bytes=%d",
                    seg_path,
                    scan.corrupt,
                    len(scan.segment.seqs),
                    scan.valid_end,
                    scan.file_size,
                )
            scans.append(scan)
            last_seq = max(last_seq, scan.segment.last_seq)
        return scans

    def _rebuild_state(self, scans: list[_Scan]) -> _State:
        epochs = [scan.epoch for scan in scans if scan.epoch is not None]
        if not scans:
            return _State(epoch=_new_epoch())
        # The newest segment's epoch is the one the agent was writing; older foreign ones are set aside.
        state = _State(epoch=epochs[-1] if epochs else _new_epoch())
        seqs = [scan.segment.seqs[0] for scan in scans if scan.epoch in (None, state.epoch) and scan.segment.seqs]
        first_names = [scan.segment.first_seq for scan in scans]
        state.next_seq = max([*first_names, *(scan.segment.last_seq + 1 for scan in scans)])
        # Resend everything still on disk: duplicates are dropped by the collector, losses are not.
        state.acked_seq = min(seqs) - 1 if seqs else state.next_seq - 1
        log.warning(
            "spool state rebuilt from segments; drop counters restart at zero path=%s epoch=%s "
            "acked_seq=%d next_seq=%d",
            self.path,
            state.epoch,
            state.acked_seq,
            state.next_seq,
        )
        return state

    def _set_aside_foreign(self, scans: list[_Scan]) -> list[_Scan]:
        """Segments of another epoch cannot be sent under this one: keep them out of the way, counted."""
        kept: list[_Scan] = []
        for scan in scans:
            if scan.epoch is None or scan.epoch == self._state.epoch:
                kept.append(scan)
                continue
            segment = scan.segment
            target = segment.path.with_name(f"{segment.path.name}.epoch-{scan.epoch}")
            with contextlib.suppress(OSError):
                segment.path.rename(target)
            self._count_dropped(segment, 0, len(segment.seqs))
            log.warning(
                "spool segment belongs to another epoch, set aside and counted as dropped path=%s "
                "moved_to=%s segment_epoch=%s epoch=%s batches=%d",
                segment.path,
                target,
                scan.epoch,
                self._state.epoch,
                len(segment.seqs),
            )
        return kept

    def _repair(self, scan: _Scan) -> _Segment | None:
        """Make the file hold exactly its valid records, so damage is cut (and counted) only once."""
        segment = scan.segment
        if not scan.corrupt:
            return segment
        try:
            if not segment.seqs and scan.epoch is None:
                segment.path.unlink()
                return None
            if scan.epoch is not None and not scan.interior_damage:
                with open(segment.path, "r+b") as f:
                    f.truncate(scan.valid_end)
                    if self._fsync:
                        os.fsync(f.fileno())
                return segment
            return self._rewrite(segment)
        except OSError as exc:
            raise SpoolError(
                f"cannot repair damaged spool segment {segment.path}: {exc.strerror or exc}; "
                "check free disk space and the agent's write access to the spool directory"
            ) from exc

    def _rewrite(self, damaged: _Segment) -> _Segment:
        fresh = _Segment(damaged.path, damaged.first_seq)
        tmp = damaged.path.with_name(damaged.path.name + ".tmp")
        with open(damaged.path, "rb") as src, open(tmp, "wb") as dst:
            dst.write(_SEG_HEADER.pack(SEGMENT_MAGIC, bytes.fromhex(self._state.epoch)))
            offset = _SEG_HEADER.size
            for k in range(len(damaged.seqs)):
                src.seek(damaged.offsets[k])
                dst.write(src.read(damaged.sizes[k]))
                fresh.add(
                    damaged.seqs[k], offset, damaged.sizes[k], damaged.created[k], damaged.kinds[k], damaged.counts[k]
                )
                offset += damaged.sizes[k]
            dst.flush()
            if self._fsync:
                os.fsync(dst.fileno())
        os.replace(tmp, damaged.path)
        if self._fsync:
            _fsync_dir(self.path)
        fresh.size = offset
        return fresh

    # -------------------------------------------------------------------------- writing

    def _segment_for(self, record_size: int, seq: int) -> _Segment:
        active = self._active
        if active is not None and (active.size <= _SEG_HEADER.size or active.size + record_size <= self._segment_bytes):
            return active
        if active is not None:
            self._seal_active()
            self._delete_consumed_segments()
        return self._create_segment(seq)

    def _create_segment(self, first_seq: int) -> _Segment:
        seg_path = self.path / f"seg-{first_seq:020d}.log"
        header = _SEG_HEADER.pack(SEGMENT_MAGIC, bytes.fromhex(self._state.epoch))
        try:
            fd = os.open(seg_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise SpoolError(
                f"cannot create spool segment {seg_path}: {exc.strerror or exc}; check free disk space "
                "and the agent's write access to the spool directory"
            ) from exc
        try:
            _write_all(fd, header)
            if self._fsync:
                _sync_data(fd)
                _fsync_dir(self.path)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                seg_path.unlink()
            raise SpoolError(
                f"cannot write spool segment {seg_path}: {exc.strerror or exc}; check free disk space"
            ) from exc
        segment = _Segment(seg_path, first_seq, size=len(header))
        self._segments.append(segment)
        self._disk_bytes += segment.size
        self._active, self._active_fd = segment, fd
        return segment

    def _activate(self, segment: _Segment) -> None:
        try:
            self._active_fd = os.open(segment.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise SpoolError(
                f"cannot open spool segment {segment.path} for writing: {exc.strerror or exc}; "
                "check the agent's write access to the spool directory"
            ) from exc
        self._active = segment

    def _write_record(self, segment: _Segment, record: bytes) -> None:
        fd = self._active_fd
        assert fd is not None and segment is self._active
        try:
            _write_all(fd, record)
            if self._fsync:
                _sync_data(fd)
        except OSError as exc:
            # Leave no half record behind: the next append would land after the garbage.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, segment.size)
            raise SpoolError(
                f"cannot write to spool segment {segment.path}: {exc.strerror or exc}; "
                "free disk space or lower the spool's max_bytes"
            ) from exc
        segment.size += len(record)
        self._disk_bytes += len(record)

    def _seal_active(self) -> None:
        if self._active_fd is not None:
            os.close(self._active_fd)
        self._active, self._active_fd = None, None

    # -------------------------------------------------------------------------- acking, dropping

    @property
    def _floor(self) -> int:
        """Every seq at or below this is gone from the queue, by ack or by drop."""
        return max(self._state.acked_seq, self._state.dropped_seq)

    def _advance_floor(self, to_seq: int, *, dropped: bool) -> None:
        floor = self._floor
        if to_seq > floor:
            for segment in self._segments:
                if segment.last_seq <= floor:
                    continue
                if segment.first_seq > to_seq:
                    break
                lo, hi = bisect_right(segment.seqs, floor), bisect_right(segment.seqs, to_seq)
                for k in range(lo, hi):
                    if segment.seqs[k] in self._bad:
                        continue
                    self._pending_batches -= 1
                    self._pending_bytes -= segment.sizes[k]
                if dropped:
                    self._count_dropped(segment, lo, hi)
        if dropped:
            self._state.dropped_seq = max(self._state.dropped_seq, to_seq)
        else:
            self._state.acked_seq = max(self._state.acked_seq, to_seq)

    def _count_dropped(self, segment: _Segment, lo: int, hi: int) -> None:
        for k in range(lo, hi):
            seq = segment.seqs[k]
            if seq in self._bad:
                continue
            self._add_to_drop_counters(segment.kinds[k], segment.counts[k], +1)
            if self._state.acked_seq < seq <= self._handed_out_seq:
                self._evicted_in_flight.append(_EvictedInFlight(seq, segment.kinds[k], segment.counts[k]))

    def _add_to_drop_counters(self, kind: int, count: int, sign: int) -> None:
        state = self._state
        state.dropped_batches += sign
        if kind == RecordKind.SAMPLES:
            state.dropped_samples += sign * count
        elif kind == RecordKind.EVENTS:
            state.dropped_events += sign * count

    def _start_reading_after(self, after_seq: int) -> None:
        """A reader going back below what it was handed starts a new stream: the old one's fate is sealed."""
        if after_seq < self._handed_out_seq:
            self._handed_out_seq = after_seq
            self._evicted_in_flight.clear()

    def _refund_delivered(self, acked_seq: int) -> None:
        """Evicted records the stream had taken, now covered by its ack, did reach the collector."""
        if not self._evicted_in_flight:
            return
        still_unknown: list[_EvictedInFlight] = []
        for record in self._evicted_in_flight:
            if record.seq <= acked_seq:
                self._add_to_drop_counters(record.kind, record.count, -1)
            else:
                still_unknown.append(record)
        self._evicted_in_flight = still_unknown

    def _enforce_bounds(self) -> None:
        before = (self._state.dropped_batches, self._state.dropped_seq)
        self._enforce_age()
        while self._disk_bytes > self._max_bytes and self._segments:
            victim = self._segments[0]
            if victim is self._active:
                # It alone exceeds the bound: new records go to a fresh segment, this one goes.
                self._seal_active()
            self._drop_segment(victim)
        self._delete_consumed_segments()
        if (self._state.dropped_batches, self._state.dropped_seq) != before:
            self._save_state()

    def _enforce_age(self) -> None:
        floor = self._floor
        expired_to = self._last_expired(self._now_ms() - self._max_age_ms)
        if expired_to > floor:
            batches_before = self._state.dropped_batches
            self._advance_floor(expired_to, dropped=True)
            log.warning(
                "spool dropped batches older than max_age path=%s max_age_s=%d batches=%d through_seq=%d",
                self.path,
                self._max_age_ms // 1000,
                self._state.dropped_batches - batches_before,
                expired_to,
            )

    def _last_expired(self, cutoff_ms: int) -> int:
        """Highest seq such that it and every pending record before it were created before the cutoff."""
        floor = self._floor
        expired_to = floor
        for segment in self._segments:
            for k in range(bisect_right(segment.seqs, floor), len(segment.seqs)):
                if segment.created[k] >= cutoff_ms:
                    return expired_to
                expired_to = segment.seqs[k]
        return expired_to

    def _drop_segment(self, segment: _Segment) -> None:
        batches_before = self._state.dropped_batches
        if segment.last_seq > self._floor:
            self._advance_floor(segment.last_seq, dropped=True)
        log.warning(
            "spool over max_bytes, dropped its oldest segment path=%s max_bytes=%d batches=%d through_seq=%d",
            segment.path,
            self._max_bytes,
            self._state.dropped_batches - batches_before,
            segment.last_seq,
        )
        self._delete_segment(segment)

    def _delete_consumed_segments(self) -> None:
        floor = self._floor
        while self._segments and self._segments[0] is not self._active and self._segments[0].last_seq <= floor:
            self._delete_segment(self._segments[0])

    def _delete_segment(self, segment: _Segment) -> None:
        if segment is self._active:
            self._seal_active()
        try:
            segment.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            # Keeping the file costs only disk: its records are below the floor and never resent.
            log.error("spool cannot delete segment path=%s error=%s", segment.path, exc)
        self._segments.remove(segment)
        self._disk_bytes -= segment.size
        if self._bad:
            self._bad = {seq for seq in self._bad if seq > segment.last_seq}

    # -------------------------------------------------------------------------- reading

    def _read_after(self, after: int, limit: int) -> tuple[list[tuple[int, bytes]], int]:
        """Up to ``limit`` records with seq > after; also the last seq looked at (bad ones included)."""
        out: list[tuple[int, bytes]] = []
        cursor = after
        budget = _READ_CHUNK_BYTES
        for segment in self._segments:
            if segment.last_seq <= after:
                continue
            lo = bisect_right(segment.seqs, after)
            hi = lo
            while hi < len(segment.seqs) and hi - lo < limit - len(out) and (hi == lo or budget > 0):
                budget -= segment.sizes[hi]
                hi += 1
            if hi == lo:
                break
            start = segment.offsets[lo]
            length = segment.offsets[hi - 1] + segment.sizes[hi - 1] - start
            try:
                with open(segment.path, "rb") as f:
                    f.seek(start)
                    buf = f.read(length)
            except OSError as exc:
                raise SpoolError(
                    f"cannot read spool segment {segment.path}: {exc.strerror or exc}; "
                    "check the spool directory's disk and permissions"
                ) from exc
            for k in range(lo, hi):
                seq = segment.seqs[k]
                cursor = seq
                if seq in self._bad:
                    continue
                rel = segment.offsets[k] - start
                rec = _parse_record(buf, rel, rel + segment.sizes[k])
                if rec is None or rec.seq != seq or rec.size != segment.sizes[k]:
                    self._mark_bad(segment, k)
                    continue
                out.append((seq, buf[rel + REC_HEADER_SIZE : rel + rec.size]))
            if len(out) >= limit or budget <= 0:
                break
        return out, cursor

    def _mark_bad(self, segment: _Segment, k: int) -> None:
        seq = segment.seqs[k]
        log.error("spool record damaged on disk after it was written, skipping it path=%s seq=%d", segment.path, seq)
        self._bad.add(seq)
        self._state.corrupt_records += 1
        self._pending_batches -= 1
        self._pending_bytes -= segment.sizes[k]

    def _oldest_pending(self) -> int | None:
        floor = self._floor
        for segment in self._segments:
            for k in range(bisect_right(segment.seqs, floor), len(segment.seqs)):
                if segment.seqs[k] not in self._bad:
                    return segment.created[k]
        return None

    # -------------------------------------------------------------------------- housekeeping

    def _save_state(self) -> bool:
        """Replace the state file atomically; False (logged) if the disk refused."""
        target = self.path / _STATE_NAME
        tmp = self.path / (_STATE_NAME + ".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(self._state.to_json())
                f.flush()
                if self._fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, target)
            if self._fsync:
                _fsync_dir(self.path)
        except OSError as exc:
            # The data is still in the segments; a stale state only means duplicates after a restart.
            log.error("spool cannot write its state file path=%s error=%s", target, exc)
            return False
        return True

    def _now_ms(self) -> int:
        now = self._clock()
        if now.tzinfo is None:  # a naive clock is taken to be UTC, never local time
            now = now.replace(tzinfo=UTC)
        return int(now.timestamp() * 1000)

    def _check_open(self) -> None:
        if self._closed:
            raise SpoolError(f"spool {self.path} is closed; open a new Spool to use it again")

    def _release_handles(self) -> None:
        self._seal_active()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing also releases the flock
            self._lock_fd = None


def main(argv: list[str] | None = None) -> int:
    import argparse  # only this command line needs it, not the running agent

    parser = argparse.ArgumentParser(
        prog="python -m agent.spool",
        description="Open an agent spool directory (repairing torn writes) and print its state.",
    )
    parser.add_argument("path", type=Path, help="the agent's spool directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        with Spool(args.path) as spool:
            stats = spool.stats()
    except SpoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name in stats.__slots__:
        value = getattr(stats, name)
        print(f"{name}={value.isoformat() if isinstance(value, datetime) else value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
