"""A fake /proc with hand-written stat lines, for exact process collector tests."""

from __future__ import annotations

from pathlib import Path


def stat_line(
    pid: int,
    comm: str,
    state: str = "S",
    *,
    threads: int = 1,
    utime: int = 0,
    stime: int = 0,
    start: int = 100,
    rss_pages: int = 0,
) -> str:
    # Fields 1..24 of proc(5); only those the collectors read carry meaningful values.
    fields = [str(pid), f"({comm})", state, "1", str(pid), str(pid), "0", "-1", "4194560", "0", "0", "0", "0"]
    fields += [str(utime), str(stime), "0", "0", "20", "0", str(threads), "0", str(start), "1000", str(rss_pages)]
    fields += ["18446744073709551615"] + ["0"] * 27
    return " ".join(fields) + "\n"


class FakeProc:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "self").mkdir(parents=True, exist_ok=True)
        (root / "self" / "stat").write_text(stat_line(1, "self"))

    def set(self, pid: int, comm: str, state: str = "S", **fields: int) -> None:
        (self.root / str(pid)).mkdir(exist_ok=True)
        (self.root / str(pid) / "stat").write_text(stat_line(pid, comm, state, **fields))

    def remove(self, pid: int) -> None:
        (self.root / str(pid) / "stat").unlink()
        (self.root / str(pid)).rmdir()
