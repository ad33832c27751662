"""The collector's Ed25519 key for signing diagnostic requests.

Generated on first start under ``<data_dir>/diagnostics/`` (private key mode 0600, never logged or
served), with the public key next to it for agents to pin (``diagnostics.collector_key`` in
agent.yaml). Several collectors behind one load balancer must share one key: copy both files to
each collector's data directory before starting it. Replacing the key means re-pinning every agent.

``python -m collector.diagnostics.signing DATA_DIR`` prints the public key (creating the pair if
needed), so deploy tooling can pin it before the collector first runs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from agent.diagnostics.canonical import canonical_request
from protos.patrol.v1 import agent_pb2 as pb

PRIVATE_NAME = "signing_key.pem"
PUBLIC_NAME = "signing_key.pub.pem"


def key_dir(data_dir: Path) -> Path:
    return data_dir / "diagnostics"


def fingerprint(public_key: ed25519.Ed25519PublicKey) -> str:
    """``SHA256:<base64>`` of the raw public key (the same string agents log)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


class Signer:
    def __init__(self, private_key: ed25519.Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.fingerprint = fingerprint(self.public_key)

    @classmethod
    def load_or_create(cls, directory: Path) -> Signer:
        """The key pair in ``directory``, generated there (atomically, mode 0600) if there is none."""
        private = directory / PRIVATE_NAME
        try:
            data = private.read_bytes()
        except FileNotFoundError:
            return cls._create(directory)
        except OSError as e:
            raise OSError(f"cannot read the diagnostics signing key {private}: {e.strerror}") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{private} is not a PEM private key ({e}); restore it from a backup, or delete it "
                             "to generate a new one (then every agent must pin the new public key)") from None
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{private} holds a {type(key).__name__}; diagnostics need an Ed25519 key")
        signer = cls(key)
        public = directory / PUBLIC_NAME
        if not public.exists():
            _write_new(public, signer.public_pem(), 0o644)
        return signer

    @classmethod
    def _create(cls, directory: Path) -> Signer:
        directory.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            _write_new(directory / PRIVATE_NAME, pem, 0o600)
        except FileExistsError:
            # Another process (a second collector on the same data directory) won the race: use its key.
            return cls.load_or_create(directory)
        signer = cls(key)
        public = directory / PUBLIC_NAME
        public.unlink(missing_ok=True)
        _write_new(public, signer.public_pem(), 0o644)
        return signer

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, req: pb.DiagnosticRequest, host_id: str) -> None:
        """Set ``req.signature`` over its canonical encoding, addressed to ``host_id``."""
        req.signature = self._key.sign(canonical_request(req, host_id))


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``data``; FileExistsError if it exists. Written to a temp file first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if the path exists: no second writer can replace a key
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.diagnostics.signing",
                                     description="Print the collector's diagnostics public key (PEM) for agents "
                                                 "to pin; generates the key pair on first use.")
    parser.add_argument("data_dir", type=Path, help="the collector's data_dir")
    args = parser.parse_args(argv)
    try:
        signer = Signer.load_or_create(key_dir(args.data_dir))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(signer.public_pem().decode())
    print(f"# {signer.fingerprint}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
