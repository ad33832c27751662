"""``patrol-agent enroll``: trade a one-time token for this agent's client certificate.

    patrol-agent enroll --collector https://patrol.example.net:4318 --token pte1.… \\
        --ca-fingerprint sha256:… --owner patrol-agent

Generates the key here (it never leaves the machine), sends a CSR with the token, checks the answer
and writes ``agent.key`` (0600), ``agent.crt`` and ``ca.crt``, then prints the ``tls:`` section for
agent.yaml.

Trust on first contact: the agent cannot know the collector yet, so it pins the fingerprint of the
collector's CA that ``patrol enroll-token`` printed. Over HTTPS it fetches the CA, checks the
fingerprint and only then sends the token, on a connection verified against that CA. Without a
fingerprint it accepts only a server certificate the system trusts, or plain HTTP to this machine
itself (a token must never cross a network in clear text).

``cryptography`` is needed here only, and imported only here.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import re
import shutil
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.configfile import ConfigError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

DEFAULT_DIR = Path("/etc/patrol/tls")
TIMEOUT = 30.0
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class EnrollError(Exception):
    """Enrollment failed; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    https: bool
    loopback: bool


def parse_target(url: str) -> Target:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EnrollError(f"--collector {url!r}: expected https://HOST:PORT (the collector's enrollment endpoint)")
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return Target(url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", host=host,
                  https=parts.scheme == "https", loopback=loopback)


def normalize_fingerprint(text: str) -> str:
    """``sha256:<hex>`` from that form, bare hex, or openssl's ``AB:CD:…`` (with or without its label)."""
    value = text.strip().lower()
    for prefix in ("sha256 fingerprint=", "sha256:", "sha256="):
        value = value.removeprefix(prefix)
    value = value.replace(":", "")
    if not _HEX64.match(value):
        raise EnrollError(f"--ca-fingerprint {text!r}: expected sha256:<64 hex digits> as 'patrol enroll-token' "
                          "printed it")
    return f"sha256:{value}"


def ca_fingerprint(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


# ---------------------------------------------------------------------------------------------- HTTP


def _request(url: str, context: ssl.SSLContext | None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=context) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result
    except urllib.error.HTTPError as e:
        try:
            detail = json.loads(e.read()).get("detail", e.reason)
        except (ValueError, AttributeError):
            detail = e.reason
        if isinstance(detail, list):  # FastAPI's validation errors
            detail = "; ".join(str(d.get("msg", d)) for d in detail)
        raise EnrollError(f"the collector refused ({e.code}): {detail}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise EnrollError(f"cannot verify the collector's certificate at {url}: {reason.verify_message}. "
                              "Use a host name the certificate lists, or pass --ca-fingerprint") from None
        raise EnrollError(f"cannot reach the collector at {url}: {reason}") from None
    except TimeoutError:
        raise EnrollError(f"the collector at {url} did not answer within {TIMEOUT:g}s") from None
    except ValueError:
        raise EnrollError(f"{url} did not answer with JSON: is this the collector's enrollment endpoint?") from None


def _unverified() -> ssl.SSLContext:
    # Only for fetching the CA certificate, which is public and checked against the pinned fingerprint
    # before anything is trusted or sent.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fetch_pinned_ca(target: Target, pin: str) -> str:
    """The collector's CA certificate (PEM), after checking it against the pinned fingerprint."""
    from cryptography import x509

    got = _request(f"{target.url}/api/v1/pki/ca", _unverified() if target.https else None)
    try:
        ca = x509.load_pem_x509_certificate(str(got["ca"]).encode())
    except (KeyError, ValueError):
        raise EnrollError(f"{target.url} did not send a CA certificate") from None
    actual = ca_fingerprint(ca)
    if actual != pin:
        raise EnrollError(f"the collector's CA has fingerprint {actual}, not the pinned {pin}: wrong collector URL, "
                          "or someone is intercepting the connection. Nothing was sent")
    return str(got["ca"])


# ---------------------------------------------------------------------------------------------- keys


def new_key_and_csr(agent_id: str) -> tuple[EllipticCurvePrivateKey, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, agent_id)]))
           .sign(key, hashes.SHA256()))
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def check_issued(answer: dict[str, Any], key: EllipticCurvePrivateKey, pin: str | None) -> None:
    """The certificate is for our key and signed by the CA we pinned (or were sent over a trusted channel)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        cert = x509.load_pem_x509_certificate(answer["certificate"].encode())
        ca = x509.load_pem_x509_certificate(answer["ca"].encode())
    except (KeyError, AttributeError, ValueError):
        raise EnrollError("the collector's answer has no valid certificate and CA") from None
    if pin is not None and ca_fingerprint(ca) != pin:
        raise EnrollError(f"the collector answered with a CA of fingerprint {ca_fingerprint(ca)}, not the pinned {pin}")
    if cert.public_key() != key.public_key():
        raise EnrollError("the certificate the collector sent is not for this agent's key")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise EnrollError("the certificate the collector sent is not signed by its CA") from None


# ---------------------------------------------------------------------------------------------- files


def _owner(spec: str | None) -> tuple[str, str | None] | None:
    if not spec:
        return None
    user, _, group = spec.partition(":")
    import grp
    import pwd

    try:
        pw = pwd.getpwnam(user)
        group = group or grp.getgrgid(pw.pw_gid).gr_name
        grp.getgrnam(group)
    except KeyError:
        raise EnrollError(f"--owner {spec!r}: no such user or group on this machine") from None
    return user, group


def _write(path: Path, data: bytes, mode: int, owner: tuple[str, str | None] | None) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    # Created with its final mode: a key is never readable by others, not even for an instant.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if owner is not None:
        shutil.chown(tmp, owner[0], owner[1])
    os.replace(tmp, path)


def write_files(out: Path, key: EllipticCurvePrivateKey, answer: dict[str, Any],
                owner: tuple[str, str | None] | None) -> dict[str, Path]:
    from cryptography.hazmat.primitives import serialization

    paths = {"key": out / "agent.key", "cert": out / "agent.crt", "ca": out / "ca.crt"}
    new_dir = not out.exists()
    out.mkdir(parents=True, exist_ok=True, mode=0o750)
    if new_dir and owner is not None:
        shutil.chown(out, owner[0], owner[1])
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write(paths["key"], key_pem, 0o600, owner)
    _write(paths["cert"], answer["certificate"].encode(), 0o644, owner)
    _write(paths["ca"], answer["ca"].encode(), 0o644, owner)
    return paths


def _check_writable(out: Path, force: bool) -> None:
    # Fail before using the token: a token spent on files that cannot be written is lost.
    probe = out if out.exists() else next((p for p in out.parents if p.exists()), Path("/"))
    if not os.access(probe, os.W_OK):
        raise EnrollError(f"cannot write to {probe}: run as root or choose --dir")
    if not force:
        existing = [n for n in ("agent.key", "agent.crt", "ca.crt") if (out / n).exists()]
        if existing:
            raise EnrollError(f"{out} already holds {', '.join(existing)}; pass --force to replace them (an old "
                              "certificate stays valid until revoked: patrol revoke HOST)")


def tls_section(answer: dict[str, Any], paths: dict[str, Path], target: Target) -> str:
    names = answer.get("server_names") or []
    lines = ["# agent.yaml", f"agent_id: {answer['agent_id']}", f"customer: {answer['customer']}",
             f"collector: {_host_port(target.host, int(answer.get('grpc_port') or 4317))}", "tls:",
             f"  ca: {paths['ca'].resolve()}", f"  cert: {paths['cert'].resolve()}",
             f"  key: {paths['key'].resolve()}"]
    if names and target.host not in names:
        lines.append(f"  server_name: {names[0]}      # the collector's certificate does not list {target.host}")
    return "\n".join(lines)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------------------------------------- main


def default_agent_id(config: Path | None) -> str:
    from agent.config import load_agent_config, machine_agent_id

    if config is not None:
        return load_agent_config(config).resolved_agent_id()
    # The same default the agent itself uses when agent.yaml sets no agent_id.
    return machine_agent_id()


def enroll(args: argparse.Namespace) -> int:
    target = parse_target(args.collector)
    pin = normalize_fingerprint(args.ca_fingerprint) if args.ca_fingerprint else None
    if not target.https and not target.loopback:
        raise EnrollError(f"refusing to send the token in clear text to {target.host}: use https:// (the "
                          "collector's tls.pki.enroll_listen), or http:// only to this machine")
    agent_id = args.agent_id or default_agent_id(args.config)
    owner = _owner(args.owner)
    _check_writable(args.dir, args.force)
    context: ssl.SSLContext | None = None
    if target.https:
        if pin is not None:
            context = ssl.create_default_context(cadata=fetch_pinned_ca(target, pin))
        else:
            context = ssl.create_default_context()  # the system's trust store must vouch for the collector
    key, csr = new_key_and_csr(agent_id)
    answer = _request(f"{target.url}/api/v1/pki/enroll", context, {"token": args.token, "csr": csr})
    check_issued(answer, key, pin)
    paths = write_files(args.dir, key, answer, owner)
    print(f"enrolled as agent {answer['agent_id']} of customer {answer['customer']} "
          f"(certificate serial {answer['serial']}); wrote {paths['key']}, {paths['cert']}, {paths['ca']}",
          file=sys.stderr)
    if answer["agent_id"] != agent_id:
        print(f"note: the token fixes the agent id to {answer['agent_id']}; set it in agent.yaml", file=sys.stderr)
    if pin is None and not target.https:
        print("note: no --ca-fingerprint was given; the CA was trusted because the collector is on this machine",
              file=sys.stderr)
    print(tls_section(answer, paths, target))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="patrol-agent enroll",
                                description="Get this agent's client certificate with a one-time enrollment token.")
    p.add_argument("--collector", required=True, help="the enrollment URL, e.g. https://patrol.example.net:4318")
    p.add_argument("--token", required=True, help="the one-time token from 'patrol enroll-token'")
    p.add_argument("--ca-fingerprint", help="the collector CA's sha256 fingerprint printed with the token")
    p.add_argument("--agent-id", help="this agent's id (default: agent_id of --config, else hostname-machine id)")
    p.add_argument("--config", "-c", type=Path, help="agent.yaml, for the default agent id")
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"where to write the files (default {DEFAULT_DIR})")
    p.add_argument("--owner", help="USER[:GROUP] to own the files, e.g. patrol-agent (when run as root)")
    p.add_argument("--force", action="store_true", help="replace existing files")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return enroll(args)
    except EnrollError as e:
        print(f"patrol-agent enroll: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"patrol-agent enroll: {e.name or e}: install it with 'pip install cryptography'", file=sys.stderr)
        return 1
    except (ConfigError, OSError) as e:  # a bad --config, a file that cannot be written
        print(f"patrol-agent enroll: {e}", file=sys.stderr)
        return 1
