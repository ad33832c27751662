from __future__ import annotations

import shutil
import stat
from pathlib import Path

import psutil
import pytest

from agent.probes.systemd import SystemdProbe
from tests.agent_collectors.helpers import assert_catalogued
from tests.agent_probes.servers import wait_for

# A stand-in for systemctl: records its arguments and answers `is-active` for each unit as the
# real one does, one state per line, exit status 3 when any unit is not active.
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" > "{log}"
[ "$1" = is-active ] && [ "$2" = -- ] || exit 64
shift 2
status=0
for unit in "$@"; do
  case "$unit" in
    *failed*) echo failed; status=3 ;;
    *stopped*) echo inactive; status=3 ;;
    *reload*) echo reloading ;;
    *missing*) echo inactive; status=3 ;;
    *) echo active ;;
  esac
done
exit $status
"""


def fake_systemctl(directory: Path, body: str) -> Path:
    script = directory / "systemctl"
    script.write_text(body.format(log=directory / "args.log"))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def booted(tmp_path: Path) -> str:
    marker = tmp_path / "run-systemd-system"
    marker.mkdir()
    return str(marker)


@pytest.fixture
def systemctl_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = fake_systemctl(bin_dir, FAKE_SYSTEMCTL)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return script


def states(probe: SystemdProbe) -> dict[str, float]:
    samples = probe.collect()
    assert_catalogued(samples)
    return {dict(s.labels)["unit"]: s.value for s in samples}


def test_states_of_every_unit_from_one_systemctl_call(systemctl_on_path: Path, booted: str) -> None:
    units = ["nginx", "app.service", "db-failed.service", "cron-stopped", "haproxy-reload.service"]
    probe = SystemdProbe(units, booted_marker=booted)
    assert states(probe) == {
        "nginx": 1.0,
        "app.service": 1.0,
        "db-failed.service": 0.0,
        "cron-stopped": 0.0,
        "haproxy-reload.service": 1.0,  # still serving while it reloads
    }
    assert (systemctl_on_path.parent / "args.log").read_text().split() == ["is-active", "--", *units]


def test_no_systemctl_means_no_samples(booted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert SystemdProbe(["nginx"], booted_marker=booted).collect() == []


def test_systemctl_installed_but_not_booted_with_systemd(systemctl_on_path: Path, tmp_path: Path) -> None:
    # A container or another init: systemctl exists but cannot answer; not "inactive".
    assert SystemdProbe(["nginx"], booted_marker=str(tmp_path / "absent")).collect() == []


def test_an_answer_that_is_not_one_state_per_unit_gives_no_samples(
    tmp_path: Path, booted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = fake_systemctl(
        tmp_path, "#!/bin/sh\necho 'System has not been booted with systemd as init system (PID 1).' >&2\nexit 1\n"
    )
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: str(script))
    assert SystemdProbe(["nginx", "cron"], booted_marker=booted).collect() == []


def test_a_hanging_systemctl_is_abandoned_after_the_timeout(
    tmp_path: Path, booted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shell waits for a child that holds the output pipe: both must go, or the read never ends.
    script = fake_systemctl(tmp_path, "#!/bin/sh\nsleep 30 &\necho $! > {log}\nwait\n")
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: str(script))
    assert SystemdProbe(["nginx"], timeout=0.2, booted_marker=booted).collect() == []
    helper = int((tmp_path / "args.log").read_text())
    wait_for(lambda: not psutil.pid_exists(helper) or psutil.Process(helper).status() == psutil.STATUS_ZOMBIE)


def test_real_systemctl_on_this_host_never_raises() -> None:
    samples = SystemdProbe(["ssh.service", "no-such-unit-patrol-test.service"]).collect()
    assert_catalogued(samples)
    if samples:  # a systemd host: an unknown unit is simply not active
        assert dict((dict(s.labels)["unit"], s.value) for s in samples)["no-such-unit-patrol-test.service"] == 0.0
