"""Append, stream, ack and restart: the spool as a durable queue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.spool import RecordKind, Spool, SpoolError
from protos.patrol.v1 import agent_pb2
from tests.agent_spool.helpers import payload_for, read_all


def fill(spool: Spool, n: int, size: int = 100) -> list[int]:
    return [spool.append_with(lambda seq: payload_for(seq, size), RecordKind.SAMPLES, 2) for _ in range(n)]


def segment_files(path: Path) -> list[Path]:
    return sorted(path.glob("seg-*.log"))


def test_seqs_start_at_one_and_pending_is_in_order(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool", fsync=False) as spool:
        seqs = fill(spool, 5)
        assert seqs == [1, 2, 3, 4, 5]
        assert read_all(spool) == [(s, payload_for(s)) for s in seqs]
        assert [s for s, _ in spool.pending(after_seq=2)] == [3, 4, 5]
        assert [s for s, _ in spool.pending(after_seq=1, limit=2)] == [2, 3]
        assert list(spool.pending(after_seq=5)) == []


def test_append_stores_the_payload_as_given(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False) as spool:
        seq = spool.append(b"\x00raw bytes\xff", RecordKind.EVENTS, 7)
        assert read_all(spool) == [(seq, b"\x00raw bytes\xff")]


def test_append_with_puts_the_seq_inside_the_message(tmp_path: Path) -> None:
    def build(seq: int) -> bytes:
        return agent_pb2.AgentMessage(samples=agent_pb2.Samples(seq=seq)).SerializeToString()

    with Spool(tmp_path, fsync=True) as spool:
        assert [spool.append_with(build, RecordKind.SAMPLES, 0) for _ in range(3)] == [1, 2, 3]
        decoded = [agent_pb2.AgentMessage.FromString(p).samples.seq for _, p in spool.pending()]
        assert decoded == [1, 2, 3]


def test_ack_is_cumulative_and_hides_acked_records(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False) as spool:
        fill(spool, 6)
        spool.ack(4)
        assert [s for s, _ in spool.pending()] == [5, 6]
        spool.ack(2)  # a late, smaller ack changes nothing
        assert spool.acked_seq == 4
        assert [s for s, _ in spool.pending()] == [5, 6]
        stats = spool.stats()
        assert (stats.depth_batches, stats.acked_seq, stats.next_seq) == (2, 4, 7)
        spool.ack(6)
        assert read_all(spool) == []
        assert spool.stats().depth_batches == 0
        assert spool.stats().depth_bytes == 0
        assert spool.stats().oldest_created is None


def test_ack_beyond_the_last_seq_is_clamped(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False) as spool:
        fill(spool, 3)
        spool.ack(99)
        assert spool.acked_seq == 3
        assert spool.append(b"next", RecordKind.OTHER, 0) == 4
        assert [s for s, _ in spool.pending()] == [4]


def test_depth_counts_pending_batches_and_bytes(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False) as spool:
        fill(spool, 4, size=500)
        first = spool.stats()
        assert first.depth_batches == 4
        assert first.depth_bytes > 4 * 500
        spool.ack(1)
        after = spool.stats()
        assert after.depth_batches == 3
        assert after.depth_bytes == first.depth_bytes * 3 // 4


def test_restart_keeps_pending_acked_and_continues_the_seq(tmp_path: Path) -> None:
    spool = Spool(tmp_path, fsync=True)
    fill(spool, 10)
    spool.ack(3)
    epoch = spool.epoch
    spool.close()

    reopened = Spool(tmp_path, fsync=True)
    try:
        assert reopened.epoch == epoch
        assert reopened.acked_seq == 3
        assert read_all(reopened) == [(s, payload_for(s)) for s in range(4, 11)]
        assert reopened.append(b"after restart", RecordKind.EVENTS, 1) == 11
        # The segment that was being written is continued, not abandoned.
        assert len(segment_files(tmp_path)) == 1
        assert reopened.stats().depth_batches == 8
    finally:
        reopened.close()


def test_next_seq_survives_when_every_segment_is_gone(tmp_path: Path) -> None:
    # Tiny segments so that every record seals the previous segment, which the ack then deletes.
    with Spool(tmp_path, fsync=False, segment_bytes=1) as spool:
        fill(spool, 5)
        spool.ack(5)
        spool.append(b"x", RecordKind.OTHER, 0)
        spool.ack(6)
    for seg in segment_files(tmp_path):
        seg.unlink()
    with Spool(tmp_path, fsync=False) as spool:
        assert spool.append(b"y", RecordKind.OTHER, 0) == 7


def test_ack_deletes_fully_acked_segments(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, segment_bytes=1000) as spool:
        fill(spool, 30, size=200)  # ~4 records per segment
        before = segment_files(tmp_path)
        assert len(before) >= 7
        spool.ack(15)
        after = segment_files(tmp_path)
        assert len(after) < len(before)
        assert [s for s, _ in spool.pending()] == list(range(16, 31))
        spool.ack(30)
        # Only the segment being written may stay, and it holds nothing pending.
        assert len(segment_files(tmp_path)) <= 1
        assert spool.stats().segments <= 1
    with Spool(tmp_path, fsync=False) as spool:
        assert read_all(spool) == []
        assert spool.append(b"z", RecordKind.OTHER, 0) == 31


def test_segments_rotate_at_the_configured_size(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False, segment_bytes=4096) as spool:
        fill(spool, 50, size=500)
    files = segment_files(tmp_path)
    assert len(files) > 1
    assert all(f.stat().st_size <= 4096 for f in files)
    assert files[0].name == "seg-00000000000000000001.log"


def test_pending_sees_acks_and_appends_made_while_iterating(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False) as spool:
        fill(spool, 600)  # more than one read chunk
        seen: list[int] = []
        for seq, _ in spool.pending():
            seen.append(seq)
            if seq == 10:
                spool.ack(400)
                fill(spool, 1)
        assert seen[:10] == list(range(1, 11))
        assert 300 not in seen
        assert seen[-1] == 601
        assert seen == sorted(seen)


def test_one_thread_appends_while_another_streams_and_acks(tmp_path: Path) -> None:
    total = 2000
    with Spool(tmp_path, fsync=False, segment_bytes=8192) as spool:
        received: list[int] = []
        done = threading.Event()

        def transport() -> None:
            last = 0
            while last < total:
                for seq, payload in spool.pending(after_seq=last):
                    assert payload == payload_for(seq)
                    received.append(seq)
                    last = seq
                spool.ack(last)
            done.set()

        thread = threading.Thread(target=transport)
        thread.start()
        fill(spool, total)
        assert done.wait(30), "transport thread did not receive every record"
        thread.join()
        assert received == list(range(1, total + 1))
        assert spool.stats().depth_batches == 0


def test_invalid_arguments_are_rejected(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False) as spool:
        with pytest.raises(ValueError):
            spool.append(b"x", 9, 1)
        with pytest.raises(ValueError):
            spool.append(b"x", RecordKind.SAMPLES, -1)
        with pytest.raises(TypeError):
            spool.append_with(lambda seq: "text", RecordKind.SAMPLES, 1)  # type: ignore[arg-type,return-value]
        # A rejected append must not consume a seq.
        assert spool.append(b"ok", RecordKind.SAMPLES, 1) == 1
    with pytest.raises(ValueError):
        Spool(tmp_path / "other", max_bytes=0)


def test_path_that_is_a_file_raises_spool_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "spool"
    not_a_dir.write_text("x")
    with pytest.raises(SpoolError, match=str(not_a_dir)):
        Spool(not_a_dir)
    with pytest.raises(SpoolError, match="spool path"):
        Spool(not_a_dir / "below")


def test_unwritable_directory_raises_spool_error(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
        try:
            with pytest.raises(SpoolError, match="not writable"):
                Spool(target)
        finally:
            target.chmod(0o700)
        return
    # Root can write anywhere: check as an unprivileged user instead.
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        base.chmod(0o755)
        target = base / "ro"
        target.mkdir(mode=0o555)
        # The spool is stdlib-only: a copy of it runs under the system interpreter, which nobody can reach.
        repo = Path(__file__).resolve().parents[2]
        (base / "pkg" / "agent").mkdir(parents=True)
        for name in ("__init__.py", "spool.py"):
            shutil.copy(repo / "agent" / name, base / "pkg" / "agent" / name)
        for p in (base / "pkg", base / "pkg" / "agent", *(base / "pkg" / "agent").iterdir()):
            p.chmod(0o755)
        python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
        code = ("import sys; from agent.spool import Spool, SpoolError\n"
                "try:\n    Spool(sys.argv[1])\nexcept SpoolError as e:\n    print('SpoolError:', e)\n")
        out = subprocess.run([python, "-c", code, str(target)], user=65534, cwd="/", text=True,
                             capture_output=True, env={"PYTHONPATH": str(base / "pkg")}, timeout=60)
        assert "SpoolError:" in out.stdout and "not writable" in out.stdout, out.stdout + out.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_second_spool_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path, fsync=False), pytest.raises(SpoolError, match="in use by another process"):
        Spool(tmp_path, fsync=False)
    with Spool(tmp_path, fsync=False) as again:  # released on close
        assert again.next_seq == 1


def test_closed_spool_refuses_work(tmp_path: Path) -> None:
    spool = Spool(tmp_path, fsync=False)
    spool.close()
    spool.close()  # idempotent
    with pytest.raises(SpoolError, match="closed"):
        spool.append(b"x", RecordKind.OTHER, 0)
    with pytest.raises(SpoolError, match="closed"):
        list(spool.pending())
