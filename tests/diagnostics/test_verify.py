"""Signature, expiry and replay checks of the agent, and the collector's key management."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.diagnostics.canonical import canonical_bytes, canonical_request
from agent.diagnostics.verify import NonceCache, PinnedKey, Refusal, RequestVerifier
from collector.diagnostics.signing import PRIVATE_NAME, PUBLIC_NAME, Signer
from tests.diagnostics.conftest import NOW, signed


def verifier(pinned: Path, tmp_path: Path, host: str = "web-1", now: float = NOW, skew: float = 30.0,
             cache: NonceCache | None = None) -> RequestVerifier:
    return RequestVerifier(PinnedKey(pinned), host, cache or NonceCache(tmp_path / "nonces.json"), clock_skew_s=skew,
                           max_request_age_s=900, clock=lambda: now)


def reason(v: RequestVerifier, req: object) -> str:
    with pytest.raises(Refusal) as info:
        v.verify(req)  # type: ignore[arg-type]
    return info.value.reason


def test_canonical_encoding_is_fixed_and_unambiguous() -> None:
    base = canonical_bytes("h", "r", "a", {"b": "2", "a": "1"}, "alice", 5, "nonce", 10, 100)
    # Argument order does not matter; moving a boundary between fields does.
    assert base == canonical_bytes("h", "r", "a", {"a": "1", "b": "2"}, "alice", 5, "nonce", 10, 100)
    assert base != canonical_bytes("h", "r", "a", {"a": "1b", "": "2"}, "alice", 5, "nonce", 10, 100)
    assert base != canonical_bytes("hr", "", "a", {"b": "2", "a": "1"}, "alice", 5, "nonce", 10, 100)
    assert base.startswith(len("patrol.v1.DiagnosticRequest").to_bytes(4, "big") + b"patrol.v1.DiagnosticRequest")
    assert base.endswith(b"\x00\x00\x00\x02" + b"10" + b"\x00\x00\x00\x03" + b"100")


def test_a_valid_request_passes_once(signer: Signer, pinned: Path, tmp_path: Path) -> None:
    v = verifier(pinned, tmp_path)
    req = signed(signer)
    v.verify(req)
    assert reason(v, req) == "replayed"


def test_every_signed_field_is_covered(signer: Signer, pinned: Path, tmp_path: Path) -> None:
    v = verifier(pinned, tmp_path)
    changes = {
        "request_id": lambda r: setattr(r, "request_id", "r2"),
        "action": lambda r: setattr(r, "action", "packages"),
        "args": lambda r: r.args.update({"limit": "5"}),
        "requested_by": lambda r: setattr(r, "requested_by", "mallory"),
        "expires_ms": lambda r: setattr(r, "expires_ms", r.expires_ms + 1),
        "nonce": lambda r: setattr(r, "nonce", "m" * 32),
        "timeout_s": lambda r: setattr(r, "timeout_s", 600),
        "max_output_bytes": lambda r: setattr(r, "max_output_bytes", 10**9),
    }
    for name, change in changes.items():
        req = signed(signer, nonce=f"{name:_<16}")
        change(req)
        assert reason(v, req) == "bad_signature", name


def test_request_for_another_host_is_refused(signer: Signer, pinned: Path, tmp_path: Path) -> None:
    req = signed(signer, host="web-2")
    assert reason(verifier(pinned, tmp_path, host="web-1"), req) == "bad_signature"


def test_another_collectors_key_is_refused(pinned: Path, tmp_path: Path) -> None:
    impostor = Signer.load_or_create(tmp_path / "impostor")
    assert reason(verifier(pinned, tmp_path), signed(impostor)) == "bad_signature"


def test_expiry_allows_the_configured_skew_only(signer: Signer, pinned: Path, tmp_path: Path) -> None:
    req = signed(signer, expires_ms=int((NOW - 10) * 1000))
    assert reason(verifier(pinned, tmp_path, skew=5), req) == "expired"
    verifier(pinned, tmp_path, skew=30).verify(req)
    far = signed(signer, nonce="f" * 32, expires_ms=int((NOW + 3600) * 1000))
    assert reason(verifier(pinned, tmp_path), far) == "expiry_too_far"


def test_replay_cache_survives_a_restart_and_forgets_expired_nonces(signer: Signer, pinned: Path,
                                                                     tmp_path: Path) -> None:
    req = signed(signer)
    verifier(pinned, tmp_path).verify(req)
    # A new agent process reads the cache from disk.
    assert reason(verifier(pinned, tmp_path), req) == "replayed"
    assert stat.S_IMODE(os.stat(tmp_path / "nonces.json").st_mode) == 0o600
    # Once the request has expired (plus skew) its nonce is dropped; the expiry check refuses it instead.
    later = verifier(pinned, tmp_path, now=NOW + 120)
    assert reason(later, req) == "expired"
    later.verify(signed(signer, nonce="z" * 32, expires_ms=int((NOW + 150) * 1000)))
    assert len(later.nonces) == 1


def test_malformed_requests_are_refused_before_verification(signer: Signer, pinned: Path, tmp_path: Path) -> None:
    v = verifier(pinned, tmp_path)
    short_nonce = signed(signer, nonce="abc")
    assert reason(v, short_nonce) == "malformed"
    no_signature = signed(signer, nonce="q" * 32)
    no_signature.signature = b""
    assert reason(v, no_signature) == "malformed"


def test_pinned_key_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="patrol diag-key"):
        PinnedKey(tmp_path / "missing.pem")
    (tmp_path / "garbage.pem").write_text("hello")
    with pytest.raises(ValueError, match="not a PEM public key"):
        PinnedKey(tmp_path / "garbage.pem")


def test_signer_creates_the_key_once_with_private_permissions(tmp_path: Path) -> None:
    first = Signer.load_or_create(tmp_path / "k")
    again = Signer.load_or_create(tmp_path / "k")
    assert first.public_pem() == again.public_pem()
    assert stat.S_IMODE(os.stat(tmp_path / "k" / PRIVATE_NAME).st_mode) == 0o600
    assert (tmp_path / "k" / PUBLIC_NAME).read_bytes() == first.public_pem()
    assert PinnedKey(tmp_path / "k" / PUBLIC_NAME).fingerprint == first.fingerprint
    req = signed(first)
    assert first.public_key.verify(req.signature, canonical_request(req, "web-1")) is None
