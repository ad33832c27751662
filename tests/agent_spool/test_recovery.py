"""Torn writes, damaged records, lost state files and crashes: keep every record that was written."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.spool import REC_HEADER_SIZE, RecordKind, Spool, encode_record
from tests.agent_spool.helpers import payload_for, read_all

SEG_HEADER_SIZE = 24
REPO = Path(__file__).resolve().parents[2]


def make_spool(path: Path, n: int, size: int = 100, ack: int = 0) -> Path:
    """A closed spool holding seqs 1..n in one segment; returns that segment's path."""
    with Spool(path, fsync=False) as spool:
        for _ in range(n):
            spool.append_with(lambda seq: payload_for(seq, size), RecordKind.SAMPLES, 1)
        if ack:
            spool.ack(ack)
    (segment,) = sorted(path.glob("seg-*.log"))
    return segment


def record_offset(seq: int, size: int = 100) -> int:
    """Where record ``seq`` starts in a single-segment spool of equal-sized records."""
    return SEG_HEADER_SIZE + (seq - 1) * (REC_HEADER_SIZE + size)


def flip(path: Path, offset: int, length: int = 4) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + length):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_torn_tail_is_truncated_and_earlier_records_kept(tmp_path: Path) -> None:
    segment = make_spool(tmp_path, 5)
    full = segment.stat().st_size
    os.truncate(segment, full - 40)  # record 5 lost its last 40 bytes
    with Spool(tmp_path, fsync=False) as spool:
        assert read_all(spool) == [(s, payload_for(s)) for s in range(1, 5)]
        assert spool.stats().corrupt_records == 1
        assert segment.stat().st_size == record_offset(5)
        assert spool.append(b"next", RecordKind.OTHER, 0) == 6  # seqs never go backwards
    with Spool(tmp_path, fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [1, 2, 3, 4, 6]
        assert spool.stats().corrupt_records == 1


@pytest.mark.parametrize("cut", [1, REC_HEADER_SIZE - 1, REC_HEADER_SIZE + 10])
def test_torn_header_or_payload_of_the_last_record(tmp_path: Path, cut: int) -> None:
    segment = make_spool(tmp_path, 3)
    os.truncate(segment, record_offset(3) + cut)
    with Spool(tmp_path, fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [1, 2]
        assert spool.stats().corrupt_records == 1


def test_garbage_after_the_last_record_is_cut_away(tmp_path: Path) -> None:
    segment = make_spool(tmp_path, 5)
    full = segment.stat().st_size
    with open(segment, "ab") as f:
        f.write(random.Random(7).randbytes(3000))
    with Spool(tmp_path, fsync=False) as spool:
        assert read_all(spool) == [(s, payload_for(s)) for s in range(1, 6)]
        assert spool.stats().corrupt_records == 1
        assert segment.stat().st_size == full
        seq = spool.append(b"after repair", RecordKind.OTHER, 0)
    with Spool(tmp_path, fsync=False) as spool:
        assert read_all(spool)[-1] == (seq, b"after repair")
        assert spool.stats().corrupt_records == 1


@pytest.mark.parametrize("where", ["payload", "magic", "length", "crc"])
def test_corrupt_record_in_the_middle_is_skipped(tmp_path: Path, where: str) -> None:
    segment = make_spool(tmp_path, 5)
    start = record_offset(3)
    offset = {"payload": start + REC_HEADER_SIZE + 50, "magic": start, "length": start + 4, "crc": start + 29}
    flip(segment, offset[where])
    with Spool(tmp_path, fsync=False) as spool:
        assert read_all(spool) == [(s, payload_for(s)) for s in (1, 2, 4, 5)]
        assert spool.stats().corrupt_records == 1
        assert spool.stats().depth_batches == 4
    # The damage was repaired on the first open: it is neither counted again nor does it come back.
    with Spool(tmp_path, fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [1, 2, 4, 5]
        assert spool.stats().corrupt_records == 1


def test_replayed_record_with_an_old_seq_is_not_taken_twice(tmp_path: Path) -> None:
    # A valid record whose seq does not follow its predecessor (a replayed block, say) is damage.
    segment = make_spool(tmp_path, 5)
    data = segment.read_bytes()
    second = data[record_offset(2) : record_offset(3)]
    at = record_offset(5)
    segment.write_bytes(data[:at] + second + data[at:])
    with Spool(tmp_path, fsync=False) as spool:
        assert read_all(spool) == [(s, payload_for(s)) for s in range(1, 6)]
        assert spool.stats().corrupt_records == 1


def test_damaged_segment_header_keeps_the_records(tmp_path: Path) -> None:
    segment = make_spool(tmp_path, 4)
    flip(segment, 0, 8)
    with Spool(tmp_path, fsync=False) as spool:
        assert read_all(spool) == [(s, payload_for(s)) for s in range(1, 5)]
        assert spool.stats().corrupt_records == 1
        assert spool.append(b"x", RecordKind.OTHER, 0) == 5


def test_empty_segment_file_from_a_crash_during_rotation(tmp_path: Path) -> None:
    make_spool(tmp_path, 3)
    (tmp_path / "seg-00000000000000000004.log").write_bytes(b"")
    with Spool(tmp_path, fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [1, 2, 3]
        assert spool.append(b"x", RecordKind.OTHER, 0) == 4
        assert read_all(spool)[-1] == (4, b"x")


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": 1, "epoch": "zz"}', b"\x00\xff" * 40])
def test_corrupt_state_file_is_rebuilt_from_the_segments(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    make_spool(tmp_path, 6, ack=2)
    with Spool(tmp_path, fsync=False) as spool:
        epoch = spool.epoch
    (tmp_path / "state.json").write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="patrol.agent.spool"), Spool(tmp_path, fsync=False) as spool:
        assert spool.epoch == epoch  # recovered from the segment header, so the collector still dedups
        # Acked records still on disk are resent rather than risking a loss.
        assert read_all(spool) == [(s, payload_for(s)) for s in range(1, 7)]
        assert spool.acked_seq == 0
        assert spool.append(b"x", RecordKind.OTHER, 0) == 7
    assert "state file corrupt" in caplog.text
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == epoch and state["next_seq"] == 8


def test_missing_state_file_is_rebuilt(tmp_path: Path) -> None:
    make_spool(tmp_path, 3)
    (tmp_path / "state.json").unlink()
    with Spool(tmp_path, fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [1, 2, 3]
        assert spool.append(b"x", RecordKind.OTHER, 0) == 4


def test_a_new_spool_gets_a_new_epoch(tmp_path: Path) -> None:
    with Spool(tmp_path / "a", fsync=False) as a, Spool(tmp_path / "b", fsync=False) as b:
        assert a.epoch != b.epoch
        assert len(a.epoch) == 32


def test_segment_of_another_epoch_is_set_aside_and_counted(tmp_path: Path) -> None:
    make_spool(tmp_path / "other", 2)
    make_spool(tmp_path / "mine", 3)
    with Spool(tmp_path / "mine", fsync=False) as spool:
        spool.ack(3)
        spool.append(b"x", RecordKind.OTHER, 0)  # so "mine" has a segment beyond the foreign one
    foreign = tmp_path / "other" / "seg-00000000000000000001.log"
    # Stale data of an old epoch ends up in this directory (a restored backup, say).
    foreign.rename(tmp_path / "mine" / "seg-00000000000000000000.log")
    with Spool(tmp_path / "mine", fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [4]
        assert spool.stats().dropped_batches == 2
    assert not (tmp_path / "mine" / "seg-00000000000000000000.log").exists()
    assert list((tmp_path / "mine").glob("seg-00000000000000000000.log.epoch-*"))


def test_leftovers_of_interrupted_replacements_are_removed_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    segment = make_spool(tmp_path, 2)
    leftovers = [tmp_path / "state.json.tmp", segment.with_name(segment.name + ".tmp")]
    for leftover in leftovers:
        leftover.write_bytes(b"half written")
    with caplog.at_level(logging.WARNING, logger="patrol.agent.spool"), Spool(tmp_path, fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [1, 2]
    assert not any(leftover.exists() for leftover in leftovers)
    assert caplog.text == ""


def test_foreign_files_are_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_spool(tmp_path, 2)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "seg-12.log").write_bytes(b"short name")
    with caplog.at_level(logging.WARNING, logger="patrol.agent.spool"), Spool(tmp_path, fsync=False) as spool:
        assert [s for s, _ in spool.pending()] == [1, 2]
    assert "notes.txt" in caplog.text and "seg-12.log" in caplog.text
    assert (tmp_path / "notes.txt").read_text() == "hello"


def test_record_damaged_after_open_is_skipped_when_read(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False) as spool:
        for _ in range(4):
            spool.append_with(lambda seq: payload_for(seq), RecordKind.SAMPLES, 1)
        (segment,) = tmp_path.glob("seg-*.log")
        flip(segment, record_offset(2) + REC_HEADER_SIZE + 5)
        assert [s for s, _ in spool.pending()] == [1, 3, 4]
        assert [s for s, _ in spool.pending()] == [1, 3, 4]
        stats = spool.stats()
        assert (stats.corrupt_records, stats.depth_batches) == (1, 3)
        spool.ack(4)
        assert spool.stats().depth_batches == 0


def fuzz_cases() -> list[tuple[int, str]]:
    return [(seed, mode) for seed in range(40) for mode in ("random", "mutate", "splice")]


@pytest.mark.parametrize(("seed", "mode"), fuzz_cases())
def test_opening_a_fuzzed_segment_never_raises(tmp_path: Path, seed: int, mode: str) -> None:
    rng = random.Random(seed)
    segment = make_spool(tmp_path, 8, size=rng.randint(0, 300))
    original = {s: p for s, p in _records_of(tmp_path)}
    data = bytearray(segment.read_bytes())
    if mode == "random":
        data = bytearray(rng.randbytes(rng.randint(0, 4000)))
    elif mode == "mutate":
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        del data[rng.randint(SEG_HEADER_SIZE, len(data)) :]
    else:  # valid-looking records of wrong seqs and garbage spliced in
        forged = encode_record(rng.randint(1, 3), 0, 1, 1, rng.randbytes(50))
        at = rng.randint(0, len(data))
        data[at:at] = forged + rng.randbytes(rng.randint(0, 50))
    segment.write_bytes(bytes(data))

    with Spool(tmp_path, fsync=False) as spool:
        records = read_all(spool)
        seqs = [s for s, _ in records]
        assert seqs == sorted(set(seqs))
        if mode != "splice":
            assert all(original.get(s) == p for s, p in records), "a surviving record changed content"
        seq = spool.append(b"still works", RecordKind.OTHER, 0)
        assert seq > max([0, *seqs])
    with Spool(tmp_path, fsync=False) as spool:  # the repaired directory opens cleanly too
        assert read_all(spool)[-1] == (seq, b"still works")


def _records_of(path: Path) -> list[tuple[int, bytes]]:
    with Spool(path, fsync=False) as spool:
        return read_all(spool)


CHILD = textwrap.dedent(
    """
    import sys
    from agent.spool import RecordKind, Spool
    from tests.agent_spool.helpers import payload_for

    spool = Spool(sys.argv[1], fsync=False, segment_bytes=1 << 20)
    while True:
        seq = spool.append_with(lambda s: payload_for(s, 50_000 + s * 37 % 20_000), RecordKind.SAMPLES, 1)
        print(seq, flush=True)
    """
)


def test_records_survive_kill_9_in_the_middle_of_writing(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    on_disk = 0
    for round_no, kill_after in enumerate((40, 25, 60, 10, 33)):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(spool_dir)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stderr is not None
        printed = []
        for line in child.stdout:
            printed.append(int(line))
            if len(printed) == kill_after:
                break
        # The child is still appending (its pipe is ahead of us): the kill lands anywhere in a write.
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert len(printed) == kill_after, f"child died early: {child.stderr.read()}"
        # After a crash the seq continues right after the last record on disk.
        assert printed[0] == on_disk + 1, f"round {round_no} did not continue the seq"

        with Spool(spool_dir, fsync=False) as spool:
            records = read_all(spool)
        seqs = [s for s, _ in records]
        # Every confirmed append is there, whole, with nothing missing in between.
        assert seqs == list(range(1, max(seqs) + 1))
        assert max(seqs) >= printed[-1]
        assert all(p == payload_for(s, 50_000 + s * 37 % 20_000) for s, p in records)
        on_disk = max(seqs)
