"""The file tailer on real files: lines, partial lines, rotation, restarts, odd content."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from agent.logs.tailer import Tailer
from tests.agent_logs.helpers import FakeClock, LogWriter, drain, texts


def make(tmp_path: Path, clock: FakeClock, *globs: str, **kwargs: object) -> Tailer:
    kwargs.setdefault("state_path", tmp_path / "state" / "files.json")
    return Tailer(list(globs) or [str(tmp_path / "app.log")], clock=clock, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- basics


def test_first_sight_starts_at_end_and_then_follows(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    writer.lines(5)
    tailer = make(tmp_path, clock)
    assert tailer.poll() == []
    new = writer.lines(3)
    got = tailer.poll()
    assert texts(got) == new
    assert all(line.source == str(tmp_path / "app.log") for line in got)
    assert tailer.poll() == []


def test_from_beginning_reads_existing_content(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    old = writer.lines(5)
    tailer = make(tmp_path, clock, from_beginning=True)
    assert texts(tailer.poll()) == old


def test_first_sight_at_end_does_not_start_inside_an_unfinished_line(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    writer.lines(2)
    writer.raw(b"half of a li")
    tailer = make(tmp_path, clock)
    assert tailer.poll() == []
    writer.raw(b"ne\n")
    assert texts(tailer.poll()) == ["half of a line"]


def test_partial_last_line_is_held_until_complete(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    tailer = make(tmp_path, clock)
    tailer.poll()
    writer.raw(b"first\nsec")
    assert texts(tailer.poll()) == ["first"]
    writer.raw(b"ond part")
    assert tailer.poll() == []
    writer.raw(b" done\nthird\n")
    assert texts(tailer.poll()) == ["second part done", "third"]


def test_line_offsets_cover_the_file_exactly(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    tailer = make(tmp_path, clock, from_beginning=True)
    writer.raw("α line\r\nplain\n\nlast\n".encode())
    lines = tailer.poll()
    assert texts(lines) == ["α line", "plain", "", "last"]
    data = (tmp_path / "app.log").read_bytes()
    assert [data[line.start : line.end] for line in lines] == [b"\xce\xb1 line\r\n", b"plain\n", b"\n", b"last\n"]


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    tailer = make(tmp_path, clock)
    tailer.poll()
    writer.raw(b"good line\nbad \xff\xfe bytes\nfine again\n")
    lines = tailer.poll()
    assert texts(lines) == ["good line", "bad \ufffd\ufffd bytes", "fine again"]
    assert [line.invalid_utf8 for line in lines] == [False, True, False]
    assert tailer.invalid_utf8_lines == {str(tmp_path / "app.log"): 1}


def test_long_lines_are_truncated_and_counted(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    tailer = make(tmp_path, clock, max_line_bytes=100)
    tailer.poll()
    long_line = "x" * 250
    writer.raw(f"short\n{long_line}\nafter\n".encode())
    lines = tailer.poll()
    assert texts(lines) == ["short", "x" * 100, "after"]
    assert [line.truncated for line in lines] == [False, True, False]
    assert tailer.truncated_lines == {str(tmp_path / "app.log"): 1}


def test_long_line_arriving_in_pieces_is_truncated_without_holding_it_all(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    tailer = make(tmp_path, clock, max_line_bytes=64)
    tailer.poll()
    for _ in range(10):
        writer.raw(b"y" * 50)
        assert tailer.poll() == []
    writer.raw(b"z\nnext\n")
    lines = tailer.poll()
    assert texts(lines) == ["y" * 64, "next"]
    assert lines[0].truncated
    assert lines[0].end - lines[0].start == 50 * 10 + 2


def test_truncation_never_splits_a_utf8_character(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    tailer = make(tmp_path, clock, max_line_bytes=64)
    tailer.poll()
    writer.raw(("a" + "好" * 40 + "\n").encode())  # 1 + 120 bytes; byte 64 is inside a character
    (line,) = tailer.poll()
    assert line.truncated and not line.invalid_utf8
    assert line.text == "a" + "好" * 21


def test_new_files_matching_the_glob_are_read_from_their_start(tmp_path: Path, clock: FakeClock) -> None:
    a = LogWriter(tmp_path / "a.log")
    a.lines(2)
    tailer = make(tmp_path, clock, str(tmp_path / "*.log"), exclude=["*/ignored.log"])
    assert tailer.poll() == []
    b = LogWriter(tmp_path / "b.log")
    first_b = b.lines(3)
    LogWriter(tmp_path / "ignored.log").lines(2)
    LogWriter(tmp_path / "old.log.gz").lines(1)
    got = tailer.poll()
    assert texts(got) == first_b
    assert {line.source for line in got} == {str(tmp_path / "b.log")}
    more_a = a.lines(1)
    assert texts(tailer.poll()) == more_a


# ---------------------------------------------------------------------------- rotation


def test_rename_rotation_with_interleaved_writes_delivers_every_line_once(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    tailer = make(tmp_path, clock)
    tailer.poll()
    got: list[str] = []
    for cycle in range(3):
        writer.lines(7)
        got += texts(tailer.poll())
        writer.lines(5)  # not read before the rotation
        os.rename(path, tmp_path / f"app.log.{cycle}")
        writer.lines(4)  # the daemon still writes to the renamed file until it is told to reopen
        got += texts(tailer.poll())
        writer.raw(b"unterminated last words")
        writer.written.append("unterminated last words")
        writer.reopen()  # creates the new app.log
        writer.lines(6)
        got += texts(tailer.poll())
        writer.lines(2)
        got += texts(tailer.poll())
        clock.advance(60)  # the rotated file has been quiet for long enough: its last line is final
    got += texts(drain(tailer))
    assert sorted(got) == sorted(writer.written)  # each line once (they are all different)
    assert [x for x in got if x.startswith("line")] == [x for x in writer.written if x.startswith("line")]


def test_rename_rotation_waits_for_the_new_file_before_leaving_the_old_one(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    tailer = make(tmp_path, clock, rotate_wait_s=30)
    tailer.poll()
    os.rename(path, tmp_path / "app.log.1")
    path.touch()  # logrotate "create": empty until the daemon reopens
    assert tailer.poll() == []
    late = writer.lines(3)  # the daemon has not been told yet
    clock.advance(10)
    assert texts(tailer.poll()) == late
    writer.reopen()
    fresh = writer.lines(2)
    assert texts(tailer.poll()) == fresh


def test_rotated_file_is_left_after_rotate_wait_when_no_new_file_appears(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    tailer = make(tmp_path, clock, rotate_wait_s=5)
    tailer.poll()
    os.remove(path)
    last = writer.lines(2)
    assert texts(tailer.poll()) == last
    clock.advance(6)
    assert tailer.poll() == []
    assert tailer.positions() == {}
    writer.close()
    fresh = LogWriter(path).lines(2)
    assert texts(tailer.poll()) == fresh


def test_copytruncate_with_interleaved_writes_delivers_every_line_once(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    tailer = make(tmp_path, clock)
    tailer.poll()
    got: list[str] = []
    for cycle in range(3):
        writer.lines(8)
        got += texts(tailer.poll())
        writer.lines(5)  # written after our last read: only the copy has them after truncation
        shutil.copyfile(path, tmp_path / f"app.log.{cycle}")
        os.truncate(path, 0)
        writer.lines(3 + cycle * 50)  # may grow past the old offset before the next poll
        got += texts(tailer.poll())
        writer.lines(2)
        got += texts(tailer.poll())
    assert got == writer.written


def test_rotated_name_matching_the_glob_is_not_read_again(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    tailer = make(tmp_path, clock, str(tmp_path / "app.log*"))
    tailer.poll()
    got = texts(tailer.poll())
    writer.lines(4)
    got += texts(tailer.poll())
    os.rename(path, tmp_path / "app.log.1")
    writer.lines(2)
    got += texts(tailer.poll())
    writer.reopen()
    writer.lines(3)
    got += texts(drain(tailer, 4))
    assert got == writer.written
    # a late write to the rotated generation is still picked up, once
    os.write(os.open(tmp_path / "app.log.1", os.O_WRONLY | os.O_APPEND), b"straggler\n")
    assert texts(drain(tailer)) == ["straggler"]


# ---------------------------------------------------------------------------- restarts


def test_restart_in_the_middle_loses_and_duplicates_nothing(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    first = make(tmp_path, clock)
    first.poll()
    before = writer.lines(10)
    writer.raw(b"pending hal")  # a partial line at the moment of the commit
    handed_over = texts(first.poll())
    assert handed_over == before
    first.commit()
    writer.raw(b"f\n")
    not_committed = ["pending half", *writer.lines(4)]
    assert texts(first.poll()) == not_committed
    first.close()  # crash before these lines were handed over

    second = make(tmp_path, clock)
    after_restart = texts(second.poll())
    later = writer.lines(3)
    after_restart += texts(second.poll())
    assert handed_over + after_restart == before + not_committed + later


def test_restart_resumes_at_the_committed_position_not_at_the_end(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    first = make(tmp_path, clock)
    first.poll()
    writer.lines(3)
    first.poll()
    first.commit()
    first.close()
    while_down = writer.lines(5)
    second = make(tmp_path, clock)
    assert texts(second.poll()) == while_down


def test_commit_with_hold_keeps_the_position_before_held_lines(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    first = make(tmp_path, clock)
    first.poll()
    writer.lines(5)
    lines = first.poll()
    held = lines[3].position_before()
    assert held is not None
    first.commit(hold={str(tmp_path / "app.log"): held})
    first.close()
    second = make(tmp_path, clock)
    assert texts(second.poll()) == writer.written[3:]


def test_rotation_while_down_drains_the_old_generation_first(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    first = make(tmp_path, clock)
    first.poll()
    writer.lines(2)
    first.poll()
    first.commit()
    first.close()
    unread_old = writer.lines(3)
    os.rename(path, tmp_path / "app.log.1")
    writer.reopen()
    new = writer.lines(2)
    second = make(tmp_path, clock)
    assert texts(drain(second)) == unread_old + new


def test_copytruncate_while_down_recovers_from_the_copy(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    first = make(tmp_path, clock)
    first.poll()
    writer.lines(20)
    first.poll()
    first.commit()
    first.close()
    unread_old = writer.lines(3)
    shutil.copyfile(path, tmp_path / "app.log.1")
    os.truncate(path, 0)
    new = writer.lines(30)  # longer than before, so only the fingerprint shows the truncation
    second = make(tmp_path, clock)
    assert texts(drain(second)) == unread_old + new


def test_reused_inode_with_other_content_is_read_from_its_start(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "app.log"
    path.write_text("old generation line one\nold generation line two\n")
    first = make(tmp_path, clock)
    first.poll()
    first.commit()
    first.close()
    # Same inode, different content of a different length: what inode reuse looks like.
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(b"NEW content, first line is longer than before\nsecond\n")
    second = make(tmp_path, clock)
    assert texts(second.poll()) == ["NEW content, first line is longer than before", "second"]


def test_state_file_is_valid_json_and_corrupt_state_is_set_aside(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    state = tmp_path / "state" / "files.json"
    first = make(tmp_path, clock)
    first.poll()
    writer.lines(2)
    first.poll()
    first.commit()
    saved = json.loads(state.read_text())
    entry = saved["files"][str(tmp_path / "app.log")]
    assert entry["offset"] == (tmp_path / "app.log").stat().st_size
    assert entry["ino"] == (tmp_path / "app.log").stat().st_ino
    assert [p.name for p in state.parent.iterdir()] == ["files.json"]  # no temp files left behind

    state.write_text("{not json")
    second = make(tmp_path, clock)
    assert second.poll() == []  # no usable state: first sight, from the end
    assert (state.parent / "files.json.corrupt").exists()


def test_without_state_path_nothing_is_written(tmp_path: Path, clock: FakeClock) -> None:
    writer = LogWriter(tmp_path / "app.log")
    writer.lines(2)
    tailer = Tailer([str(tmp_path / "app.log")], from_beginning=True, clock=clock)
    assert len(tailer.poll()) == 2
    tailer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log"]


def test_offline_flush_emits_the_unterminated_last_line(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "app.log").write_bytes(b"one\r\ntwo\r\nthree without newline")
    tailer = Tailer([str(tmp_path / "app.log")], from_beginning=True, clock=clock)
    assert texts(tailer.poll(flush_partial=True)) == ["one", "two", "three without newline"]
    assert tailer.at_end()


@pytest.mark.parametrize("bad", [0, 10])
def test_rejects_a_tiny_line_limit(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        Tailer([str(tmp_path / "x")], max_line_bytes=bad)


# ---------------------------------------------------------------------------- randomized


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_rotations_restarts_and_partial_writes_deliver_each_line_once(
    tmp_path: Path, clock: FakeClock, seed: int
) -> None:
    """Writes, both rotation styles, restarts and partial lines in random order. Positions are
    committed after every poll (the agent commits once the events are spooled), so every line
    must arrive exactly once. The limits of the real world are kept: at most one rotation between
    two polls, and a writer never rotates or reopens in the middle of a line."""
    import random

    rng = random.Random(seed)
    path = tmp_path / "app.log"
    writer = LogWriter(path)
    expected: list[str] = []
    got: list[str] = []
    pending = ""  # the unterminated start of the next line
    rotated_since_poll = False
    generation = 0
    tailer = make(tmp_path, clock, rotate_wait_s=3)
    tailer.poll()

    def poll() -> None:
        nonlocal rotated_since_poll
        got.extend(texts(tailer.poll()))
        tailer.commit()
        rotated_since_poll = False

    for step in range(300):
        action = rng.random()
        if action < 0.35:
            for _ in range(rng.randint(1, 20)):
                text = pending + f"seed {seed} step {step} line {rng.randrange(10**9)}"
                writer.raw((text[len(pending) :] + "\n").encode())
                expected.append(text)
                pending = ""
        elif action < 0.45:
            fragment = f"frag{rng.randrange(1000)} "
            writer.raw(fragment.encode())
            pending += fragment
        elif action < 0.75:
            poll()
        elif action < 0.82 and not pending and not rotated_since_poll:
            generation += 1
            os.rename(path, tmp_path / f"app.log.{generation}")
            if rng.random() < 0.5:  # the daemon writes a little more before it is told to reopen
                for _ in range(rng.randint(1, 3)):
                    text = f"late line {rng.randrange(10**9)}"
                    writer.raw((text + "\n").encode())
                    expected.append(text)
            writer.reopen()
            rotated_since_poll = True
        elif action < 0.88 and not pending and not rotated_since_poll:
            generation += 1
            shutil.copyfile(path, tmp_path / f"app.log.{generation}")
            os.truncate(path, 0)
            rotated_since_poll = True
        elif action < 0.94:
            poll()
            tailer.close()  # restart
            tailer = make(tmp_path, clock, rotate_wait_s=3)
        else:
            clock.advance(rng.choice((0.5, 4)))
    if pending:
        writer.raw(b"\n")
        expected.append(pending)
    for _ in range(3):
        clock.advance(4)
        poll()
    assert got == expected
