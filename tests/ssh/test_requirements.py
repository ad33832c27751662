"""Without an OpenSSH server the SSH tests skip with the reason, and fail in CI instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ssh import sshd


def test_missing_sshd_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sshd, "SSHD", Path("/nonexistent/sbin/sshd"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must install it"):
        sshd.require_openssh()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install openssh-server"):
        sshd.require_openssh()
