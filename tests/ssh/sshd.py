"""A real OpenSSH server on loopback for the SSH inspection tests.

The server runs as the current user (root in CI containers) on a free port, with its own host key
and one authorized client key, all in a temporary folder. When sshd is not installed the tests
skip with the reason — except under ``CI=true``, where a missing server is a failure.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from collector.localrun import free_port

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")


def require_openssh() -> None:
    """Skip (or, in CI, fail) unless sshd and ssh-keygen are installed."""
    missing = [name for name, ok in (("/usr/sbin/sshd", SSHD.is_file()), ("ssh-keygen", shutil.which("ssh-keygen")))
               if not ok]
    if not missing and (os.geteuid() == 0 or PRIVSEP_DIR.is_dir()):
        return
    if not missing:
        missing = [f"{PRIVSEP_DIR} (created by the ssh service at boot; or run the tests as root)"]
    reason = (f"OpenSSH server not installed ({', '.join(missing)} missing): "
              "apt-get install openssh-server openssh-client")
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} — CI must install it (see .ci/run)")
    pytest.skip(reason)


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    if path.exists():
        path.unlink()
        path.with_suffix(".pub").unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "patrol-test", "-f", str(path)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return path


class SshServer:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.user = getpass.getuser()
        self.host_key = keygen(self.dir / "ssh_host_ed25519_key")
        self.client_key = keygen(self.dir / "client_ed25519")
        (self.dir / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        self.log_path = self.dir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.config_path = self.dir / "sshd_config"
        self.config_path.write_text("\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            f"PidFile {self.dir / 'sshd.pid'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "StrictModes no",
            "UsePAM no",
            "PrintMotd no",
            "UseDNS no",
            "MaxSessions 20",
            # Debian's bash reads ~/.bashrc for commands run by sshd unless it is a nested shell; this
            # machine's root .bashrc is slow (pyenv), which would only measure the test box.
            "SetEnv SHLVL=2",
            "LogLevel INFO",  # disconnect reasons are logged at INFO
            "",
        ]))

    def known_hosts_line(self) -> str:
        kind, b64 = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {b64}\n"

    def write_known_hosts(self, path: Path) -> Path:
        path.write_text(self.known_hosts_line())
        return path

    def start(self) -> SshServer:
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
            # Debian's ssh.service creates it at boot; a container without systemd has none.
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        check = subprocess.run([str(SSHD), "-t", "-f", str(self.config_path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd rejects the test configuration: {check.stderr.strip()}")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.config_path)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            # Our own sshd must have bound the port: another test process's server could answer on it
            # if it took the port between free_port() and our bind.
            listening = f"Server listening on 127.0.0.1 port {self.port}." in self.log_path.read_text(errors="replace")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-") and listening:
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not answer on port {self.port} within 10 s")

    def stop(self) -> None:
        """Stop the server and its per-connection children, so open client connections break too."""
        if self.proc is not None and self.proc.poll() is None:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def change_host_key(self) -> None:
        """A reinstalled (or impersonated) server: a new host key, same address."""
        self.stop()
        keygen(self.host_key)
        self.start()
