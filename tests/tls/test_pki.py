"""The PKI in-process: CA files, enrollment tokens, signing, revocation and certificate identity."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, insert

from agent.enroll import (
    EnrollError,
    Target,
    check_issued,
    new_key_and_csr,
    normalize_fingerprint,
    parse_target,
    tls_section,
)
from collector.pki.ca import (
    CaError,
    CertificateAuthority,
    agent_uri,
    fingerprint,
    parse_agent_uri,
    serial_hex,
    server_names,
)
from collector.pki.crl import Revocation, RevocationError, RevocationList, normalize_serial
from collector.pki.enroll import Enrollment, EnrollmentError
from collector.pki.identity import CertificateIdentity, certificate_identity, identity_mismatch
from collector.pki.tables import enroll_tokens
from collector.pki_config import PkiConfig
from collector.server import StreamError
from collector.store.engine import open_engine
from collector.store.schema import hosts
from tests.tls.helpers import Clock, FakeContext, agent_credentials, hello

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ca(clock: Clock) -> CertificateAuthority:
    return CertificateAuthority.create("Patrol CA test", clock.dt())


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = open_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def enrollment(engine: Engine, ca: CertificateAuthority, clock: Clock) -> Enrollment:
    settings = PkiConfig.model_validate({"token_ttl": "1h", "max_token_ttl": "2d", "cert_validity": "30d"})
    return Enrollment(engine, ca, settings, {"acme", "globex"}, clock)


def csr_for(agent_id: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    return new_key_and_csr(agent_id)


# ---------------------------------------------------------------------------------------------- the CA


def test_ca_is_created_once_then_loaded_with_a_private_key(tmp_path: Path, clock: Clock) -> None:
    cert_path, key_path = tmp_path / "pki/ca.crt", tmp_path / "pki/ca.key"
    ca, created = CertificateAuthority.load_or_create(cert_path, key_path, "Patrol CA x", clock.dt())
    assert created and key_path.stat().st_mode & 0o777 == 0o600
    again, created_again = CertificateAuthority.load_or_create(cert_path, key_path, "Patrol CA x", clock.dt())
    assert not created_again and again.fingerprint == ca.fingerprint
    key_path.unlink()
    with pytest.raises(CaError, match=r"incomplete.*ca\.key is missing"):
        CertificateAuthority.load_or_create(cert_path, key_path, "Patrol CA x", clock.dt())


def test_agent_certificate_names_agent_and_customer(ca: CertificateAuthority, clock: Clock) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue_agent(key.public_key(), "web:01", "acme", clock.dt(), timedelta(days=30))
    assert ca.issued(cert)
    name = certificate_identity(cert)
    assert name is not None and (name.agent_id, name.customer_id) == ("web:01", "acme")
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    other = CertificateAuthority.create("other", clock.dt())
    assert not other.issued(cert)
    assert parse_agent_uri(agent_uri("a/b", "c d")) == parse_agent_uri("patrol://customer/c%20d/agent/a%2Fb")
    assert parse_agent_uri("patrol://customer/acme/host/x") is None


# ---------------------------------------------------------------------------------------------- enrollment


def test_token_enrolls_once_and_binds_the_customer(enrollment: Enrollment, engine: Engine) -> None:
    token = enrollment.create_token("acme", actor="admin")
    assert token.token.startswith("pte1.") and token.id in token.token
    key, csr = csr_for("web-01")
    issued = enrollment.enroll(token.token, csr)
    assert (issued.agent_id, issued.customer_id) == ("web-01", "acme")
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    assert cert.public_key() == key.public_key() and serial_hex(cert) == issued.serial
    name = certificate_identity(cert)
    assert name is not None and name.customer_id == "acme"
    # The secret is not stored, only its hash.
    with engine.connect() as conn:
        stored = conn.execute(enroll_tokens.select()).mappings().one()
    assert token.token.rsplit(".", 1)[1] not in str(dict(stored)) and stored["used_by_host"] == "web-01"
    with pytest.raises(EnrollmentError, match="already used") as used:
        enrollment.enroll(token.token, csr_for("web-02")[1])
    assert used.value.status == 403


def test_expired_wrong_and_malformed_tokens_are_refused(enrollment: Enrollment, clock: Clock) -> None:
    token = enrollment.create_token("acme", actor="admin", ttl_s=600)
    secret_wrong = token.token[:-4] + ("AAAA" if not token.token.endswith("AAAA") else "BBBB")
    with pytest.raises(EnrollmentError, match="unknown enrollment token"):
        enrollment.enroll(secret_wrong, csr_for("web-01")[1])
    with pytest.raises(EnrollmentError, match="malformed"):
        enrollment.enroll("not-a-token", csr_for("web-01")[1])
    clock.now += 601
    with pytest.raises(EnrollmentError, match="expired") as expired:
        enrollment.enroll(token.token, csr_for("web-01")[1])
    assert expired.value.status == 403
    assert [t["state"] for t in enrollment.list_tokens(include_spent=True)] == ["expired"]
    assert enrollment.list_tokens() == []


def test_a_withdrawn_token_enrolls_nothing(enrollment: Enrollment, clock: Clock) -> None:
    token = enrollment.create_token("acme", actor="admin")
    listed = enrollment.withdraw_token(token.id, "admin")
    assert listed["state"] == "expired" and enrollment.list_tokens() == []
    with pytest.raises(EnrollmentError, match="expired"):
        enrollment.enroll(token.token, csr_for("web-01")[1])
    with pytest.raises(EnrollmentError, match="already expired") as again:
        enrollment.withdraw_token(token.id, "admin")
    assert again.value.status == 409
    with pytest.raises(EnrollmentError, match="no enrollment token 'nope'") as unknown:
        enrollment.withdraw_token("nope", "admin")
    assert unknown.value.status == 404
    used = enrollment.create_token("acme", actor="admin")
    enrollment.enroll(used.token, csr_for("web-02")[1])
    with pytest.raises(EnrollmentError, match="already used"):
        enrollment.withdraw_token(used.id, "admin")


def test_token_limits(enrollment: Enrollment) -> None:
    with pytest.raises(EnrollmentError, match="unknown customer"):
        enrollment.create_token("initech", actor="admin")
    with pytest.raises(EnrollmentError, match="at most 2 days"):
        enrollment.create_token("acme", actor="admin", ttl_s=3 * 86400)
    with pytest.raises(EnrollmentError, match="not valid"):
        enrollment.create_token("acme", actor="admin", host_id="bad host")


def test_an_enrolled_host_cannot_be_taken_over(enrollment: Enrollment, engine: Engine, clock: Clock) -> None:
    enrollment.enroll(enrollment.create_token("acme", actor="admin").token, csr_for("web-01")[1])
    # Another customer's token cannot claim the id, nor can a second ordinary token of the same customer.
    with pytest.raises(EnrollmentError, match="enrolled for customer 'acme'"):
        enrollment.enroll(enrollment.create_token("globex", actor="admin").token, csr_for("web-01")[1])
    with pytest.raises(EnrollmentError, match="already enrolled"):
        enrollment.enroll(enrollment.create_token("acme", actor="admin").token, csr_for("web-01")[1])
    # A host that reports (without a certificate yet) for another customer keeps its id too.
    with engine.begin() as conn:
        conn.execute(insert(hosts).values(id="db-09", customer_id="globex", hostname="db-09", labels={}, facts={},
                                          first_seen_ms=0, last_seen_ms=0))
    with pytest.raises(EnrollmentError, match="already reports for customer 'globex'"):
        enrollment.enroll(enrollment.create_token("acme", actor="admin").token, csr_for("db-09")[1])


def test_host_bound_token_reenrolls_and_revokes_the_old_certificate(enrollment: Enrollment, engine: Engine,
                                                                     clock: Clock) -> None:
    first = enrollment.enroll(enrollment.create_token("acme", actor="admin").token, csr_for("web-01")[1])
    token = enrollment.create_token("acme", actor="admin", host_id="web-01")
    second = enrollment.enroll(token.token, csr_for("whatever-the-csr-says")[1])
    assert second.agent_id == "web-01" and second.serial != first.serial
    assert [r.serial for r in second.superseded] == [first.serial]
    crl = RevocationList(engine, clock)
    crl.refresh()
    assert crl.get(first.serial) is not None and crl.get(second.serial) is None
    states = {c["serial"]: c["state"] for c in enrollment.certificates("web-01")}
    assert states == {first.serial: "revoked", second.serial: "valid"}


def test_csr_is_checked(enrollment: Enrollment) -> None:
    token = enrollment.create_token("acme", actor="admin").token
    with pytest.raises(EnrollmentError, match="not a PEM"):
        enrollment.enroll(token, "garbage")
    weak = (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web-01")]))
            .sign(rsa.generate_private_key(65537, 1024), hashes.SHA256()))
    with pytest.raises(EnrollmentError, match="unsupported key"):
        enrollment.enroll(token, weak.public_bytes(serialization.Encoding.PEM).decode())
    anonymous = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
                 .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()))
    with pytest.raises(EnrollmentError, match="not a valid agent id"):
        enrollment.enroll(token, anonymous.public_bytes(serialization.Encoding.PEM).decode())
    # Refusals before issuing leave the token usable.
    assert enrollment.enroll(token, csr_for("web-01")[1]).agent_id == "web-01"


# ---------------------------------------------------------------------------------------------- revocation


def test_revocation_reaches_other_collectors_and_expires_from_memory(enrollment: Enrollment, engine: Engine,
                                                                     clock: Clock) -> None:
    issued = enrollment.enroll(enrollment.create_token("acme", actor="admin").token, csr_for("web-01")[1])
    here, elsewhere = RevocationList(engine, clock), RevocationList(engine, clock)
    assert here.refresh() == [] and elsewhere.refresh() == []
    with pytest.raises(RevocationError, match="no certificate was issued to host 'nope'"):
        here.revoke_host("nope", "test", "admin")
    revoked = here.revoke_host("web-01", "stolen", "admin")
    assert [r.serial for r in revoked] == [issued.serial] and here.get(issued.serial) is not None
    assert here.revoke_host("web-01", "again", "admin") == []  # nothing left
    assert elsewhere.get(issued.serial) is None
    assert [r.serial for r in elsewhere.refresh()] == [issued.serial]
    # A serial from another PKI, written the way openssl prints it.
    rev = elsewhere.revoke_serial("serial=0A:BC:DE", "external", "admin")
    assert rev.serial == "abcde" and rev.host_id is None
    assert elsewhere.revoke_serial("ABCDE", "twice", "admin").reason == "external"
    with pytest.raises(RevocationError):
        normalize_serial("xyz")
    # Once the certificate has expired, the TLS handshake refuses it: the entry leaves memory.
    clock.now += 31 * 86400
    here.refresh()
    assert here.get(issued.serial) is None and here.get("abcde") is not None


# ---------------------------------------------------------------------------------------------- identity


def test_identity_comes_from_the_certificate_not_hello(ca: CertificateAuthority, clock: Clock, tmp_path: Path
                                                       ) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    crl = RevocationList(engine, clock)
    identify = CertificateIdentity(crl)
    creds = agent_credentials(ca, "web-01", "acme", clock.dt())
    ident = identify(hello("web-01", "acme").hello, FakeContext(creds.cert))
    assert (ident.host_id, ident.customer_id, ident.from_certificate) == ("web-01", "acme", True)
    before = identity_mismatch.labels("agent_id")._value.get()
    ident = identify(hello("db-01", "globex").hello, FakeContext(creds.cert))
    assert (ident.host_id, ident.customer_id) == ("web-01", "acme")
    assert identity_mismatch.labels("agent_id")._value.get() == before + 1

    with pytest.raises(StreamError) as none:
        identify(hello("web-01", "acme").hello, FakeContext(None))
    assert none.value.code is grpc.StatusCode.UNAUTHENTICATED

    serial = serial_hex(x509.load_pem_x509_certificate(creds.cert))
    crl.add([Revocation(serial=serial, host_id="web-01", revoked_ms=int(clock.now * 1000), revoked_by="admin",
                        reason="stolen")])
    with pytest.raises(StreamError, match=r"revoked.*stolen.*enroll this agent again") as revoked:
        identify(hello("web-01", "acme").hello, FakeContext(creds.cert))
    assert revoked.value.code is grpc.StatusCode.PERMISSION_DENIED

    # A certificate that names no agent: a server certificate presented as a client one.
    _, server = ca.issue_server(["localhost"], clock.dt())
    with pytest.raises(StreamError, match="names no Patrol agent") as anonymous:
        identify(hello("web-01", "acme").hello, FakeContext(server.public_bytes(serialization.Encoding.PEM)))
    assert anonymous.value.code is grpc.StatusCode.PERMISSION_DENIED
    engine.dispose()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_script_makes_certificates_the_collector_accepts(tmp_path: Path) -> None:
    script = REPO / "deploy/pki/openssl-pki.sh"
    for args in (["ca", str(tmp_path)], ["server", str(tmp_path), "patrol.example.net", "10.0.0.5"],
                 ["agent", str(tmp_path), "web-01", "acme"]):
        subprocess.run(["bash", str(script), *args], check=True, capture_output=True, timeout=30)
    ca_cert = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    agent = x509.load_pem_x509_certificate((tmp_path / "web-01.crt").read_bytes())
    agent.verify_directly_issued_by(ca_cert)
    name = certificate_identity(agent)
    assert name is not None and (name.agent_id, name.customer_id) == ("web-01", "acme")
    assert (tmp_path / "web-01.key").stat().st_mode & 0o777 == 0o600
    assert server_names(x509.load_pem_x509_certificate((tmp_path / "server.crt").read_bytes())) == [
        "patrol.example.net", "10.0.0.5"]
    refused = subprocess.run(["bash", str(script), "ca", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "refusing to replace a CA" in refused.stderr


# ---------------------------------------------------------------------------------------------- the agent side


def test_agent_enroll_checks() -> None:
    fp = "ab" * 32
    assert normalize_fingerprint(f"sha256:{fp}") == f"sha256:{fp}"
    assert normalize_fingerprint(f"SHA256 Fingerprint={':'.join(['AB'] * 32)}") == f"sha256:{fp}"
    with pytest.raises(EnrollError, match="expected sha256"):
        normalize_fingerprint("sha256:1234")
    assert parse_target("http://127.0.0.1:8080/").loopback
    assert parse_target("patrol.example.net:4318") == Target("https://patrol.example.net:4318",
                                                             "patrol.example.net", True, False)
    with pytest.raises(EnrollError, match="expected https"):
        parse_target("ftp://x")
    answer = {"agent_id": "web-01", "customer": "acme", "grpc_port": 4317, "server_names": ["patrol.example.net"]}
    paths = {"ca": Path("/t/ca.crt"), "cert": Path("/t/agent.crt"), "key": Path("/t/agent.key")}
    section = tls_section(answer, paths, parse_target("https://10.0.0.5:4318"))
    assert "collector: 10.0.0.5:4317" in section and "server_name: patrol.example.net" in section


def test_agent_refuses_an_answer_for_another_key_or_ca(ca: CertificateAuthority, clock: Clock) -> None:
    key, _ = new_key_and_csr("web-01")
    mine = ca.issue_agent(key.public_key(), "web-01", "acme", clock.dt(), timedelta(days=1))
    pem = ca.pem.decode()
    ok = {"certificate": mine.public_bytes(serialization.Encoding.PEM).decode(), "ca": pem}
    check_issued(ok, key, fingerprint(ca.cert))
    other_key, _ = new_key_and_csr("web-01")
    with pytest.raises(EnrollError, match="not for this agent's key"):
        check_issued(ok, other_key, None)
    with pytest.raises(EnrollError, match="not the pinned"):
        check_issued(ok, key, "sha256:" + "0" * 64)
    impostor = CertificateAuthority.create("impostor", clock.dt())
    with pytest.raises(EnrollError, match="not signed by its CA"):
        check_issued({**ok, "ca": impostor.pem.decode()}, key, None)


def test_token_secret_never_in_repr(enrollment: Enrollment) -> None:
    token = enrollment.create_token("acme", actor="admin")
    assert token.token not in repr(token)
