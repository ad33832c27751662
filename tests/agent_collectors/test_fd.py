from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from agent.collectors.fd import FdCollector
from tests.agent_collectors.helpers import assert_catalogued, values


def _fake_proc(root: Path, content: str) -> str:
    (root / "sys" / "fs").mkdir(parents=True)
    (root / "sys" / "fs" / "file-nr").write_text(content)
    return str(root)


def test_file_nr_arithmetic(tmp_path: Path) -> None:
    samples = FdCollector(proc_root=_fake_proc(tmp_path, "2500\t500\t100000\n")).collect()
    assert_catalogued(samples)
    assert values(samples) == {"fd.open": 2000.0, "fd.max": 100000.0, "fd.used_percent": 2.0}


def test_missing_file_reports_nothing(tmp_path: Path) -> None:
    assert FdCollector(proc_root=str(tmp_path)).collect() == []


@pytest.mark.skipif(not os.path.exists("/proc/sys/fs/file-nr"), reason="Linux only")
def test_real_handles_include_ours(tmp_path: Path) -> None:
    fds = [os.open(tmp_path, os.O_RDONLY) for _ in range(300)]
    try:
        v = values(FdCollector().collect())
    finally:
        for fd in fds:
            os.close(fd)
    with open("/proc/sys/fs/file-nr") as f:
        maximum = int(f.read().split()[2])
    assert v["fd.max"] == maximum
    assert 300 <= v["fd.open"] <= v["fd.max"]
    assert v["fd.used_percent"] == pytest.approx(v["fd.open"] / v["fd.max"] * 100)
    assert psutil.Process().num_fds() < v["fd.open"]
