from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agent.probes.config import ProcessProbeConfig
from agent.probes.processes import ProcessProbe
from tests.agent_collectors.helpers import assert_catalogued
from tests.agent_collectors.procfs_fixture import FakeProc
from tests.agent_probes.servers import wait_for

SLEEP = shutil.which("sleep")
# What the kernel calls a child started with sys.executable (a venv's python3 is a symlink).
PYTHON_NAME = Path(sys.executable).name[:15]


def counts(probe: ProcessProbe) -> dict[str, float]:
    samples = probe.collect()
    assert_catalogued(samples)
    return {dict(s.labels)["name"]: s.value for s in samples}


def probe_of(*entries: str | dict[str, str], proc_root: str | None = None) -> ProcessProbe:
    return ProcessProbe([ProcessProbeConfig.model_validate(e) for e in entries], proc_root=proc_root)


@pytest.fixture
def marker() -> str:
    # Unique per test: other test runs on this machine must not be counted.
    return f"patrol-probe-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sleepers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def start_named(tmp_path: Path, name: str, sleepers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """``sleep`` run through a symlink: the kernel names the process after the link."""
    assert SLEEP is not None
    link = tmp_path / name
    if not link.exists():
        link.symlink_to(SLEEP)
    proc = subprocess.Popen([str(link), "60"])
    sleepers.append(proc)
    wait_for(lambda: psutil.Process(proc.pid).name() == name)
    return proc


def start_python(marker: str, sleepers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    sleepers.append(proc)
    wait_for(lambda: marker in " ".join(psutil.Process(proc.pid).cmdline()))
    return proc


@pytest.mark.skipif(SLEEP is None or not sys.platform.startswith("linux"), reason="needs sleep and /proc")
def test_counts_real_processes_by_exact_name(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    name = f"pp{uuid.uuid4().hex[:10]}"  # 12 characters: not truncated by the kernel
    probe = probe_of(name, {"name": "pattern", "pattern": f"^{name[:6]}"}, {"name": "other", "pattern": name + "x"})
    assert counts(probe) == {name: 0.0, "pattern": 0.0, "other": 0.0}
    start_named(tmp_path, name, sleepers)
    start_named(tmp_path, name, sleepers)
    assert counts(probe) == {name: 2.0, "pattern": 2.0, "other": 0.0}
    for proc in sleepers:
        proc.kill()
        proc.wait()
    assert counts(probe)[name] == 0.0


@pytest.mark.skipif(SLEEP is None or not sys.platform.startswith("linux"), reason="needs sleep and /proc")
def test_long_names_match_beyond_the_kernels_15_characters(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    name = f"patrol-long-name-{uuid.uuid4().hex[:8]}"
    start_named(tmp_path, name, sleepers)
    # The kernel's name is the first 15 characters; the probe recovers the rest from argv[0].
    assert counts(probe_of(name, name[:15])) == {name: 1.0, name[:15]: 0.0}


def test_counts_by_command_line_and_name_pattern_together(marker: str, sleepers: list[subprocess.Popen[bytes]]) -> None:
    python_name = PYTHON_NAME
    probe = probe_of(
        {"name": "app", "cmdline": f"time\\.sleep.*{marker}"},
        {"cmdline": marker},  # labelled by the pattern
        {"name": "both", "pattern": f"^{python_name}$", "cmdline": marker},
        {"name": "wrong-name", "pattern": "^no-such-process$", "cmdline": marker},
    )
    assert counts(probe) == {"app": 0.0, marker: 0.0, "both": 0.0, "wrong-name": 0.0}
    start_python(marker, sleepers)
    start_python(marker, sleepers)
    assert counts(probe) == {"app": 2.0, marker: 2.0, "both": 2.0, "wrong-name": 0.0}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies are inspected through /proc")
def test_zombies_are_not_running(marker: str, sleepers: list[subprocess.Popen[bytes]]) -> None:
    probe = probe_of({"name": "app", "cmdline": marker})
    child = start_python(marker, sleepers)
    assert counts(probe) == {"app": 1.0}
    os.kill(child.pid, signal.SIGKILL)
    # Not reaped yet: a zombie keeps its /proc entry (with an empty command line) until wait().
    wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE)
    assert counts(probe) == {"app": 0.0}


def test_psutil_fallback_finds_the_same_processes(
    marker: str, sleepers: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psutil, "LINUX", False)  # as on macOS or Windows: no /proc to read
    probe = probe_of({"name": "app", "cmdline": marker}, PYTHON_NAME)
    start_python(marker, sleepers)
    result = counts(probe)
    assert result["app"] == 1.0
    assert result[PYTHON_NAME] >= 1.0  # the child at least


def test_fake_proc_excludes_the_agent_and_matches_kernel_threads_by_name(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    own = os.getpid()
    proc.set(own, "python3")
    (tmp_path / str(own) / "cmdline").write_bytes(b"python3\0-m\0agent.main\0")
    proc.set(200, "python3")
    (tmp_path / "200" / "cmdline").write_bytes(b"/usr/bin/python3\0-m\0agent.main\0--config\0x\0")
    proc.set(300, "kworker/0:1", "I")
    (tmp_path / "300" / "cmdline").write_bytes(b"")
    proc.set(400, "exited-already")  # no cmdline file: gone between the scan and the read
    probe = probe_of(
        {"name": "agents", "cmdline": "agent\\.main"},
        {"name": "kworkers", "cmdline": "^kworker/"},
        "python3",
        proc_root=str(tmp_path),
    )
    assert counts(probe) == {"agents": 1.0, "kworkers": 1.0, "python3": 1.0}


def test_fake_proc_long_name_taken_from_argv0(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.set(10, "postgres-export")  # truncated "postgres-exporter"
    (tmp_path / "10" / "cmdline").write_bytes(b"/usr/local/bin/postgres-exporter\0--web.listen-address=:9187\0")
    proc.set(11, "postgres-export")  # a different long name with the same first 15 characters
    (tmp_path / "11" / "cmdline").write_bytes(b"/opt/postgres-export-tool\0")
    probe = probe_of("postgres-exporter", "postgres-export-tool", "postgres-export", proc_root=str(tmp_path))
    assert counts(probe) == {"postgres-exporter": 1.0, "postgres-export-tool": 1.0, "postgres-export": 0.0}


def test_no_probes_no_samples() -> None:
    assert ProcessProbe([]).collect() == []
