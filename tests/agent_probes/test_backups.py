from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.probes.backups import BackupProbe
from agent.probes.config import BackupProbeConfig
from tests.agent_collectors.helpers import assert_catalogued

NOW = 1_750_000_000.0
HOUR = 3600.0


def put(path: Path, size: int, age_hours: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    mtime = NOW - age_hours * HOUR
    os.utime(path, (mtime, mtime))
    return path


def scan(*entries: str | dict[str, object]) -> dict[str, dict[str, float]]:
    probe = BackupProbe([BackupProbeConfig.model_validate(e) for e in entries], clock=lambda: NOW)
    samples = probe.collect()
    assert_catalogued(samples)
    result: dict[str, dict[str, float]] = {}
    for s in samples:
        result.setdefault(dict(s.labels)["path"], {})[s.name.removeprefix("probe.backup_")] = s.value
    return result


def test_fresh_backups_newest_and_previous_by_mtime(tmp_path: Path) -> None:
    put(tmp_path / "db-1.sql.gz", 1000, 49)
    put(tmp_path / "db-2.sql.gz", 1100, 25)
    put(tmp_path / "db-3.sql.gz", 1200, 1)
    put(tmp_path / "db-0.sql.gz", 900, 73)  # name order is not age order
    assert scan(str(tmp_path)) == {
        str(tmp_path): {
            "files": 4.0,
            "newest_age_seconds": 1 * HOUR,
            "newest_size_bytes": 1200.0,
            "previous_size_bytes": 1100.0,
        }
    }


def test_stale_backup_is_old_and_collapsed_backup_is_small(tmp_path: Path) -> None:
    stale, collapsed = tmp_path / "stale", tmp_path / "collapsed"
    put(stale / "a.tar", 500, 80)
    put(stale / "b.tar", 500, 56)
    put(collapsed / "a.tar", 10_000_000, 25)
    put(collapsed / "b.tar", 20, 1)
    result = scan(str(stale), str(collapsed))
    assert result[str(stale)]["newest_age_seconds"] == 56 * HOUR
    assert result[str(collapsed)]["newest_size_bytes"] == 20.0
    assert result[str(collapsed)]["previous_size_bytes"] == 10_000_000.0


def test_glob_and_recursion(tmp_path: Path) -> None:
    put(tmp_path / "db.sql.gz", 100, 5)
    put(tmp_path / "notes.txt", 1, 0.1)  # newer, but not a backup
    put(tmp_path / "2025" / "06" / "db.sql.gz", 300, 2)
    put(tmp_path / "2025" / "07" / "db.sql.gz", 400, 3)
    flat = scan({"path": str(tmp_path), "glob": "*.sql.gz"})[str(tmp_path)]
    assert flat == {"files": 1.0, "newest_age_seconds": 5 * HOUR, "newest_size_bytes": 100.0}
    deep = scan({"path": str(tmp_path), "glob": "*.sql.gz", "recursive": True})[str(tmp_path)]
    assert deep == {
        "files": 3.0,
        "newest_age_seconds": 2 * HOUR,
        "newest_size_bytes": 300.0,
        "previous_size_bytes": 400.0,
    }


def test_symlinked_files_count_and_symlinked_directories_are_not_entered(tmp_path: Path) -> None:
    elsewhere = put(tmp_path / "elsewhere" / "big.tar", 777, 1)
    backups = tmp_path / "backups"
    put(backups / "old.tar", 10, 30)
    (backups / "link.tar").symlink_to(elsewhere)
    (backups / "loop").symlink_to(backups)  # a loop: must not make the walk endless
    (backups / "dangling.tar").symlink_to(tmp_path / "gone.tar")
    result = scan({"path": str(backups), "recursive": True})[str(backups)]
    assert result["files"] == 2.0 and result["newest_size_bytes"] == 777.0


def test_missing_and_empty_directories_have_no_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "subdir").mkdir()  # directories are not backup files
    missing = tmp_path / "missing"
    assert scan(str(empty), str(missing)) == {str(empty): {"files": 0.0}, str(missing): {"files": 0.0}}


def test_a_single_dump_file_as_the_path(tmp_path: Path) -> None:
    dump = put(tmp_path / "nightly.dump", 4096, 10)
    assert scan(str(dump))[str(dump)] == {"files": 1.0, "newest_age_seconds": 10 * HOUR, "newest_size_bytes": 4096.0}


def test_future_mtime_is_reported_as_negative_age(tmp_path: Path) -> None:
    put(tmp_path / "a", 1, -2)
    assert scan(str(tmp_path))[str(tmp_path)]["newest_age_seconds"] == -2 * HOUR


def test_unreadable_directory_is_unknown_not_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = put(tmp_path / "locked" / "a", 1, 1).parent
    ok = put(tmp_path / "ok" / "b", 2, 1).parent
    put(ok / "private" / "c", 3, 0.5)
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        # As chmod 000 would, also for root (who reads everything and runs these tests in CI).
        if Path(path) in (locked, ok / "private"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan(str(locked), {"path": str(ok), "recursive": True})
    assert set(result) == {str(ok)}  # the locked path has no samples at all: unknown
    assert result[str(ok)]["files"] == 1.0  # an unreadable subdirectory is skipped
