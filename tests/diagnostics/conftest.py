"""Shared pieces of the diagnostics tests: a collector key pair and signed requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.diagnostics.signing import Signer
from protos.patrol.v1 import agent_pb2 as pb

NOW = 1_790_000_000.0  # a fixed "now" for clocks under test


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.load_or_create(tmp_path / "collector-keys")


@pytest.fixture
def pinned(signer: Signer, tmp_path: Path) -> Path:
    path = tmp_path / "collector.pem"
    path.write_bytes(signer.public_pem())
    return path


def signed(signer: Signer, host: str = "web-1", *, action: str = "agent_state", args: dict[str, str] | None = None,
           nonce: str = "n" * 32, expires_ms: int = int((NOW + 60) * 1000), request_id: str = "r1",
           timeout_s: int = 10, max_output: int = 1000) -> pb.DiagnosticRequest:
    req = pb.DiagnosticRequest(request_id=request_id, action=action, args=args or {}, requested_by="alice",
                               expires_ms=expires_ms, nonce=nonce, timeout_s=timeout_s, max_output_bytes=max_output)
    signer.sign(req, host)
    return req
