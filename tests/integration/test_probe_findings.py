"""A real agent probes a process, a port, an HTTP endpoint, a certificate and a backup folder;
breaking each in turn makes the next inspection report exactly that finding."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.harness import TOKEN, AgentProcess, CollectorProcess, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TAG = "patrol-e2e-sleeper"


def write_cert(path: Path, days: float) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "site.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class Endpoint(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok" if type(self).status == 200 else b"down")

    def log_message(self, *args: Any) -> None:
        pass


def inspect(collector: CollectorProcess) -> dict[tuple[str, str], str]:
    """Run a daily inspection now; (check, subject) -> status for the application and backup checks."""
    collector.flush()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    run = httpx.post(f"{collector.api}/api/v1/inspections", json={"customer": "acme", "profile": "daily"},
                     headers=headers, timeout=30).json()

    def finished() -> dict[str, Any] | None:
        r = httpx.get(f"{collector.api}/api/v1/inspections/{run['id']}", params={"findings": "all"},
                      headers=headers, timeout=30).json()
        return r if r["status"] not in ("pending", "running") else None

    done = wait_for(finished, 60, "the inspection run")
    assert done["status"] == "completed", done
    return {(f["check_id"], f["subject"]): f["status"] for f in done["findings"]
            if f["check_id"].startswith(("app.processes", "app.ports", "app.http_endpoints", "security.tls",
                                         "security.backup"))}


def test_breaking_each_probe_yields_its_finding(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    for i, size in enumerate((5000, 5100, 5200)):
        f = backups / f"db-{i}.sql.gz"
        f.write_bytes(os.urandom(size))
        os.utime(f, (time.time() - (3 - i) * 3600,) * 2)
    cert = tmp_path / "site.pem"
    write_cert(cert, days=365)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", TAG])
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    http_port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http_port}/health"

    collector = CollectorProcess(tmp_path / "collector").start()
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{collector.grpc_port}", agent_id="probed-host",
                         batch_interval=1, probes={
                             "processes": [{"name": "sleeper", "cmdline": TAG}], "ports": [port],
                             "http": [{"url": url, "expect_status": 200, "timeout": "2s"}],
                             "tls": [str(cert)], "backups": [{"path": str(backups), "glob": "*.sql.gz"}],
                             "intervals": {"processes": "1s", "ports": "1s", "http": "1s", "tls": "1s",
                                           "backups": "1s"}}).start()
    try:
        wait_for(lambda: len(agent.trace()) >= 4, 60, "probe data")
        subjects = {"process": ("app.processes", "sleeper"), "port": ("app.ports", str(port)),
                    "http": ("app.http_endpoints", url), "tls": ("security.tls_expiry", str(cert)),
                    "backup": ("security.backup_freshness", str(backups))}
        healthy = inspect(collector)
        for what, key in subjects.items():
            assert healthy.get(key) == "ok", (what, key, healthy)

        def broken_after(action: Any, key: tuple[str, str], expected: str) -> None:
            action()
            n = len(agent.trace())
            wait_for(lambda: len(agent.trace()) >= n + 3, 30, "fresh probe data")
            found = inspect(collector)
            assert found.get(key) == expected, (key, found)
            # Only the broken thing changed.
            for other in subjects.values():
                if other != key and other not in broken:
                    assert found.get(other) == "ok", (other, found)
            broken.append(key)

        broken: list[tuple[str, str]] = []
        broken_after(lambda: (sleeper.kill(), sleeper.wait()), subjects["process"], "critical")
        broken_after(listener.close, subjects["port"], "critical")
        broken_after(lambda: setattr(Endpoint, "status", 503), subjects["http"], "critical")
        broken_after(lambda: write_cert(cert, days=3), subjects["tls"], "critical")

        def stale_backups() -> None:
            for f in backups.iterdir():
                os.utime(f, (time.time() - 80 * 3600,) * 2)  # newest backup 80 h old

        broken_after(stale_backups, subjects["backup"], "critical")
    finally:
        agent.stop()
        collector.kill(signal.SIGTERM)
        server.shutdown()
        if sleeper.poll() is None:
            sleeper.kill()
