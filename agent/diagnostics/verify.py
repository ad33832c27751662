"""Is a diagnostic request really from our collector, still valid and seen for the first time?

The collector signs each request with its Ed25519 key; the agent verifies against the public key
pinned in its own config (``diagnostics.collector_key``), so neither a compromised network path nor
a collector other than the pinned one can make it run anything. A request carries an expiry and a
random nonce: expired requests are refused, and nonces are remembered (on disk, so a restart does
not forget them) until their request has expired, so a captured request cannot be replayed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.diagnostics.canonical import canonical_request
from protos.patrol.v1 import agent_pb2 as pb

log = logging.getLogger("patrol.agent.diagnostics")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ARGS = 32
MAX_ARG_BYTES = 4096
MAX_REMEMBERED_NONCES = 100_000


class Refusal(Exception):
    """A request that must not run. ``reason`` is a short code for the audit log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _import_ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise ValueError("diagnostics.collector_key is set but the 'cryptography' package is not installed; "
                         "install it (pip install cryptography) or remove collector_key") from None
    return ed25519


def key_fingerprint(raw: bytes) -> str:
    """``SHA256:<base64>`` of the raw 32-byte public key, as `patrol diag-key` prints it."""
    import hashlib  # here: hashlib loads OpenSSL, which an agent without a pinned key never needs

    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


class PinnedKey:
    """The collector's Ed25519 public key from a PEM file."""

    def __init__(self, path: Path) -> None:
        ed25519 = _import_ed25519()
        from cryptography.hazmat.primitives import serialization

        try:
            data = path.read_bytes()
        except OSError as e:
            raise ValueError(f"diagnostics.collector_key: cannot read {path}: {e.strerror}; "
                             "save the output of `patrol diag-key` there") from None
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as e:
            raise ValueError(f"diagnostics.collector_key: {path} is not a PEM public key ({e}); "
                             "save the output of `patrol diag-key` there") from None
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ValueError(f"diagnostics.collector_key: {path} holds a {type(key).__name__}, "
                             "not the collector's Ed25519 key")
        self.path = path
        self._key = key
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.fingerprint = key_fingerprint(raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class NonceCache:
    """Nonces of accepted requests until they expire, persisted so that a restart keeps them.

    The file is replaced atomically (write, fsync, rename) before a request runs, so a crash cannot
    leave a request that ran without its nonce on disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._nonces: dict[str, int] = {}
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text())
            self._nonces = {str(k): int(v) for k, v in raw.get("nonces", {}).items()}
        except FileNotFoundError:
            self._nonces = {}
        except (OSError, ValueError, AttributeError) as e:
            # Fail closed would lock the customer out of diagnostics for good; a damaged cache only
            # reopens replays of requests that are still unexpired, which the expiry bounds anyway.
            log.warning("event=diag_nonce_cache_unreadable path=%s error=%r", self.path, e)
            self._nonces = {}

    def __len__(self) -> int:
        return len(self._nonces)

    def remember(self, nonce: str, keep_until_ms: int, now_ms: int) -> bool:
        """Record ``nonce``; False if it was already seen (a replay). Raises OSError if it cannot persist."""
        with self._lock:
            self._nonces = {n: t for n, t in self._nonces.items() if t >= now_ms}
            if nonce in self._nonces:
                return False
            if len(self._nonces) >= MAX_REMEMBERED_NONCES:
                # Forgetting an unexpired nonce would allow its replay; refusing new work is safe.
                raise OSError(f"{len(self._nonces)} unexpired requests remembered; refusing more until some expire")
            self._nonces[nonce] = keep_until_ms
            self._save()
            return True

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps({"nonces": self._nonces}).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


def check_shape(req: pb.DiagnosticRequest) -> None:
    """Refuse requests whose fields are out of bounds before any cryptography is spent on them."""
    problems = []
    if not _REQUEST_ID.match(req.request_id):
        problems.append("request_id must be 1-64 letters, digits, '_' or '-'")
    if not _ACTION.match(req.action):
        problems.append("action must be a lower-case name")
    if not _NONCE.match(req.nonce):
        problems.append("nonce must be 16-128 letters, digits, '_' or '-'")
    if len(req.args) > MAX_ARGS:
        problems.append(f"at most {MAX_ARGS} arguments")
    if any(len(k.encode()) + len(v.encode()) > MAX_ARG_BYTES for k, v in req.args.items()):
        problems.append(f"an argument is longer than {MAX_ARG_BYTES} bytes")
    if len(req.signature) != 64:
        problems.append("the signature must be 64 bytes (Ed25519)")
    if problems:
        raise Refusal("malformed", "malformed request: " + "; ".join(problems))


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


class RequestVerifier:
    """Checks, in order: shape, signature, expiry, replay. Raises :class:`Refusal`."""

    def __init__(self, key: PinnedKey, host_id: str, nonces: NonceCache, *, clock_skew_s: float,
                 max_request_age_s: float, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.host_id = host_id
        self.nonces = nonces
        self.skew_ms = int(clock_skew_s * 1000)
        self.max_age_ms = int(max_request_age_s * 1000)
        self.clock = clock

    def verify(self, req: pb.DiagnosticRequest) -> None:
        check_shape(req)
        if not self.key.verify(req.signature, canonical_request(req, self.host_id)):
            raise Refusal("bad_signature",
                          f"the signature does not verify against the pinned collector key {self.key.fingerprint} "
                          f"for host {self.host_id}: the request was altered on the way, is addressed to another "
                          "host, or was signed by another collector (compare `patrol diag-key` with "
                          f"{self.key.path})")
        now_ms = int(self.clock() * 1000)
        if req.expires_ms + self.skew_ms < now_ms:
            raise Refusal("expired", f"the request expired at {_utc(req.expires_ms)}; this host's clock says "
                                     f"{_utc(now_ms)} (if the clocks disagree, fix time sync on either side)")
        if req.expires_ms - self.skew_ms > now_ms + self.max_age_ms:
            raise Refusal("expiry_too_far",
                          f"the request stays valid until {_utc(req.expires_ms)}, longer than this host accepts "
                          f"({self.max_age_ms // 1000} s plus clock skew); check the clocks on both sides")
        try:
            fresh = self.nonces.remember(req.nonce, req.expires_ms + self.skew_ms, now_ms)
        except OSError as e:
            raise Refusal("replay_cache_unavailable",
                          f"cannot record the request's nonce in {self.nonces.path}: {e}; refused, since its "
                          "replay could not be detected") from None
        if not fresh:
            raise Refusal("replayed", f"nonce {req.nonce} was already used: a replayed request was refused")
