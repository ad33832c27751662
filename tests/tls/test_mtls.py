"""Real TLS and mutual TLS on loopback: a collector process, ``patrol-agent enroll``, real and raw agents.

Each of these agents is refused or has its identity corrected: one without a certificate, one with
a certificate from another CA, one with a revoked certificate, one that claims another host and
customer in ``Hello`` (stored under its certificate's identity). Enrollment runs end to end through
``patrol enroll-token`` and ``patrol-agent enroll``; a reused or expired token is refused.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from collector.localrun import child_env, free_port
from collector.pki.ca import CertificateAuthority
from tests.integration.harness import TOKEN, AgentProcess, CollectorProcess, stored_batches, wait_for
from tests.tls.helpers import Credentials, Stream, agent_credentials, hello, refusal, samples

pytestmark = pytest.mark.integration
ENGINEER = "test-engineer-token"


@dataclass
class TlsCollector:
    proc: CollectorProcess
    ca_pem: bytes
    enroll_url: str

    @property
    def port(self) -> int:
        return self.proc.grpc_port

    def host_row(self, host_id: str) -> tuple[str, str] | None:
        with self.proc.db() as db:
            row = db.execute("SELECT id, customer_id FROM hosts WHERE id = ?", (host_id,)).fetchone()
        return None if row is None else (row[0], row[1])


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCollector]:
    work = tmp_path_factory.mktemp("mtls")
    pki = work / "data" / "pki"
    enroll_port = free_port()
    proc = CollectorProcess(
        work, insecure=False,
        tls={"cert": str(pki / "server.crt"), "key": str(pki / "server.key"), "client_ca": str(pki / "ca.crt"),
             "pki": {"enroll_listen": f"127.0.0.1:{enroll_port}", "enroll_url": f"https://localhost:{enroll_port}"}},
        api={"tokens": [{"name": "admin", "token": TOKEN, "role": "admin"},
                        {"name": "duty", "token": ENGINEER, "role": "engineer"}]})
    # The documented set-up: the CA and the server certificate from 'patrol-collector pki init'.
    init = subprocess.run([sys.executable, "-m", "collector.main", "-c", str(proc.config_path), "pki", "init",
                           "--name", "localhost", "--name", "127.0.0.1"],
                          cwd=work, env=child_env(), capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "created CA" in init.stdout and (pki / "ca.key").stat().st_mode & 0o777 == 0o600
    proc.start()
    yield TlsCollector(proc, (pki / "ca.crt").read_bytes(), f"https://localhost:{enroll_port}")
    proc.kill(signal.SIGTERM)


def patrol(c: TlsCollector, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url", c.proc.api,
                           "--token", token, *args], capture_output=True, text=True, env=child_env(), timeout=60)


def api(c: TlsCollector, method: str, path: str, token: str = TOKEN, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{c.proc.api}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                         **kwargs)


def new_token(c: TlsCollector, customer: str = "acme", ttl: str | None = None) -> dict[str, Any]:
    r = api(c, "POST", "/api/v1/pki/tokens", json={"customer": customer, "ttl": ttl})
    assert r.status_code == 200, r.text
    token: dict[str, Any] = r.json()
    return token


def enroll(url: str, token: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.main", "enroll", "--collector", url, "--token", token,
                           "--dir", str(out), *extra], capture_output=True, text=True, env=child_env(), timeout=60)


def credentials(tls_dir: Path) -> Credentials:
    return Credentials(cert=(tls_dir / "agent.crt").read_bytes(), key=(tls_dir / "agent.key").read_bytes())


def now_ms() -> int:
    return int(time.time() * 1000)


def test_agent_without_certificate_is_refused(collector: TlsCollector) -> None:
    no_cert = Stream(collector.port, collector.ca_pem).send(hello("nocert-01", "acme"))
    assert refusal(no_cert).code() is grpc.StatusCode.UNAVAILABLE  # the TLS handshake fails
    plaintext = Stream(collector.port, None).send(hello("nocert-01", "acme"))
    assert refusal(plaintext).code() is grpc.StatusCode.UNAVAILABLE
    no_cert.close()
    plaintext.close()
    assert collector.host_row("nocert-01") is None


def test_certificate_from_another_ca_is_refused(collector: TlsCollector) -> None:
    rogue = CertificateAuthority.create("Patrol CA rogue", datetime.now(tz=UTC))
    # Same subject layout, same claimed identity: only the signature differs.
    creds = agent_credentials(rogue, "rogue-01", "acme", datetime.now(tz=UTC))
    stream = Stream(collector.port, collector.ca_pem, creds).send(hello("rogue-01", "acme"))
    assert refusal(stream).code() is grpc.StatusCode.UNAVAILABLE
    stream.close()
    assert collector.host_row("rogue-01") is None


def test_enrolled_agent_claiming_another_host_is_stored_under_its_certificate(collector: TlsCollector,
                                                                              tmp_path: Path) -> None:
    out = patrol(collector, "enroll-token", "acme", "--format", "json")
    assert out.returncode == 0, out.stderr
    token = json.loads(out.stdout)[0]
    assert token["enroll_url"] == collector.enroll_url and token["ca_fingerprint"].startswith("sha256:")
    assert token["command"].startswith(f"patrol-agent enroll --collector {collector.enroll_url} --token pte1.")
    tls = tmp_path / "tls"
    done = enroll(collector.enroll_url, token["token"], tls, "--ca-fingerprint", token["ca_fingerprint"],
                  "--agent-id", "tls-web-01")
    assert done.returncode == 0, done.stderr
    assert "agent_id: tls-web-01" in done.stdout and "customer: acme" in done.stdout
    assert f"key: {tls / 'agent.key'}" in done.stdout
    assert (tls / "agent.key").stat().st_mode & 0o777 == 0o600

    reused = enroll(collector.enroll_url, token["token"], tmp_path / "tls2", "--ca-fingerprint",
                    token["ca_fingerprint"], "--agent-id", "tls-web-02")
    assert reused.returncode == 1 and "already used" in reused.stderr and not (tmp_path / "tls2/agent.key").exists()

    # A real agent whose agent.yaml claims to be another host of another customer.
    agent = AgentProcess(tmp_path / "agent", f"127.0.0.1:{collector.port}", customer="globex", agent_id="victim-01",
                         insecure=False, tls={"ca": str(tls / "ca.crt"), "cert": str(tls / "agent.crt"),
                                              "key": str(tls / "agent.key")}).start()
    try:
        wait_for(lambda: collector.host_row("tls-web-01"), 30, "the enrolled agent's host row")
        with collector.proc.db() as db:
            wait_for(lambda: stored_batches(db, "tls-web-01"), 30, "batches stored under the certificate's identity")
    finally:
        assert agent.stop() == 0
    assert collector.host_row("tls-web-01") == ("tls-web-01", "acme")
    assert collector.host_row("victim-01") is None
    with collector.proc.db() as db:
        assert stored_batches(db, "victim-01") == {}
    metrics = httpx.get(f"{collector.proc.api}/metrics", timeout=10).text
    corrected = [line for line in metrics.splitlines()
                 if line.startswith('patrol_agent_identity_mismatch_total{field="customer"}')]
    assert corrected and float(corrected[0].split()[-1]) >= 1


def test_expired_token_is_refused(collector: TlsCollector, tmp_path: Path) -> None:
    token = new_token(collector, "acme", ttl="1h")
    # The collector's clock is the real one: move the token's expiry into the past instead of waiting.
    with sqlite3.connect(collector.proc.db_path, timeout=30) as db:
        db.execute("UPDATE pki_enroll_tokens SET expires_ms = ? WHERE id = ?", (now_ms() - 1000, token["id"]))
    refused = enroll(collector.enroll_url, token["token"], tmp_path / "tls", "--ca-fingerprint",
                     token["ca_fingerprint"], "--agent-id", "tls-late-01")
    assert refused.returncode == 1 and "expired" in refused.stderr
    assert not (tmp_path / "tls").exists() or not any((tmp_path / "tls").iterdir())


def test_wrong_fingerprint_sends_nothing(collector: TlsCollector, tmp_path: Path) -> None:
    token = new_token(collector)
    refused = enroll(collector.enroll_url, token["token"], tmp_path / "tls", "--ca-fingerprint", "sha256:" + "0" * 64)
    assert refused.returncode == 1 and "Nothing was sent" in refused.stderr
    listed = api(collector, "GET", "/api/v1/pki/tokens").json()
    assert token["id"] in {t["id"] for t in listed if t["state"] == "valid"}  # still unused
    # An admin withdraws the unused token; an engineer may not, and it then enrolls nothing.
    assert api(collector, "DELETE", f"/api/v1/pki/tokens/{token['id']}", token=ENGINEER).status_code == 403
    withdrawn = api(collector, "DELETE", f"/api/v1/pki/tokens/{token['id']}")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "expired"
    assert api(collector, "DELETE", f"/api/v1/pki/tokens/{token['id']}").status_code == 409
    late = enroll(collector.enroll_url, token["token"], tmp_path / "tls2", "--ca-fingerprint",
                  token["ca_fingerprint"], "--agent-id", "tls-withdrawn-01")
    assert late.returncode == 1 and "expired" in late.stderr


def test_revoked_certificate_is_refused_on_every_connect(collector: TlsCollector, tmp_path: Path) -> None:
    token = new_token(collector)
    # Plain HTTP to the API on this machine is allowed (and needs no fingerprint).
    done = enroll(collector.proc.api, token["token"], tmp_path / "tls", "--agent-id", "tls-db-01")
    assert done.returncode == 0, done.stderr
    creds = credentials(tmp_path / "tls")
    live = Stream(collector.port, collector.ca_pem, creds).send(hello("tls-db-01", "acme"))
    live.send(samples(1, now_ms()))
    ack = live.receive()
    assert not isinstance(ack, grpc.RpcError | str) and ack.ack.seq == 1

    # Revoking and making tokens need an admin; an engineer's API token is refused.
    denied = api(collector, "POST", "/api/v1/pki/revoke", token=ENGINEER, json={"host": "tls-db-01"})
    assert denied.status_code == 403 and "needs admin" in denied.json()["detail"]
    denied = api(collector, "POST", "/api/v1/pki/tokens", token=ENGINEER, json={"customer": "acme"})
    assert denied.status_code == 403

    revoked = patrol(collector, "revoke", "tls-db-01", "--reason", "decommissioned", "--format", "json")
    assert revoked.returncode == 0, revoked.stderr
    assert [r["host_id"] for r in json.loads(revoked.stdout)] == ["tls-db-01"]
    # The live stream is ended at once...
    goodbye = live.receive()
    assert not isinstance(goodbye, grpc.RpcError | str) and goodbye.WhichOneof("payload") == "goodbye"
    assert live.receive() == "end"
    live.close()
    # ...and every new connect is refused, whatever Hello says.
    for claim in (("tls-db-01", "acme"), ("other-01", "globex")):
        again = Stream(collector.port, collector.ca_pem, creds).send(hello(*claim))
        err = refusal(again)
        assert err.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "revoked" in (err.details() or "") and "decommissioned" in (err.details() or "")
        again.close()
    assert collector.host_row("other-01") is None
    certs = api(collector, "GET", "/api/v1/pki/certificates", token=ENGINEER, params={"host": "tls-db-01"}).json()
    assert [c["state"] for c in certs] == ["revoked"]
