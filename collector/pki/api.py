"""HTTP API of the PKI.

Public (the enrollment token is the credential; also served over HTTPS on ``tls.pki.enroll_listen``):
``GET /api/v1/pki/ca`` and ``POST /api/v1/pki/enroll``. Admin: creating and listing enrollment tokens,
revoking certificates. Viewer: listing certificates.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field, model_validator

from collector.api_deps import Admin, Viewer
from collector.params import BODY_CONFIG, parse_duration_param
from collector.pki.ca import CertificateAuthority
from collector.pki.crl import RevocationError
from collector.pki.enroll import EnrollmentError, Issued
from collector.pki.runtime import Pki, PkiUnavailable

log = logging.getLogger("patrol.pki.api")
MIN_TOKEN_TTL = timedelta(seconds=1)

public_router = APIRouter(tags=["pki"])
router = APIRouter(tags=["pki"])


class _Body(BaseModel):
    model_config = BODY_CONFIG


class EnrollBody(_Body):
    token: str = Field(max_length=200)
    csr: str = Field(max_length=16384, description="PEM certificate signing request")


class TokenBody(_Body):
    customer: str
    host: str | None = Field(None, description="bind the token to this agent id (re-enrollment)")
    ttl: str | None = Field(None, description="lifetime such as 24h; default tls.pki.token_ttl")


class RevokeBody(_Body):
    host: str | None = None
    serial: str | None = None
    reason: str = Field("revoked by an administrator", max_length=500)

    @model_validator(mode="after")
    def _one(self) -> RevokeBody:
        if bool(self.host) == bool(self.serial):
            raise ValueError("name exactly one of host or serial")
        return self


def _pki(request: Request) -> Pki:
    pki: Pki | None = getattr(request.app.state.collector, "pki", None)
    if pki is None:
        raise HTTPException(409, "this collector's gRPC port runs without TLS (insecure: true): certificates and "
                                 "enrollment need tls in collector.yaml (see deploy/pki/README.md)")
    return pki


def _enrollment_ca(pki: Pki) -> CertificateAuthority:
    if pki.ca is None:
        raise HTTPException(409, str(PkiUnavailable("enrollment is off on this collector (tls.pki.enabled: false)")))
    return pki.ca


@public_router.get("/api/v1/pki/ca")
def ca(request: Request) -> dict[str, Any]:
    """The CA certificate; an agent checks it against the fingerprint given with its token."""
    authority = _enrollment_ca(_pki(request))
    return {"ca": authority.pem.decode(), "fingerprint": authority.fingerprint}


@public_router.post("/api/v1/pki/enroll")
def enroll(body: EnrollBody, request: Request) -> dict[str, Any]:
    pki = _pki(request)
    authority = _enrollment_ca(pki)
    peer = request.client.host if request.client else "?"
    try:
        issued: Issued = pki.enroll(body.token, body.csr)
    except EnrollmentError as e:
        log.warning("event=enroll_refused peer=%s status=%d detail=%r", peer, e.status, str(e))
        raise HTTPException(e.status, str(e)) from None
    return {"agent_id": issued.agent_id, "customer": issued.customer_id, "serial": issued.serial,
            "certificate": issued.certificate_pem, "not_after_ms": issued.not_after_ms,
            "ca": authority.pem.decode(), "ca_fingerprint": authority.fingerprint,
            "grpc_port": pki.grpc_port, "server_names": pki.server_names}


@router.post("/api/v1/pki/tokens")
def create_token(body: TokenBody, request: Request, who: Admin) -> dict[str, Any]:
    pki = _pki(request)
    ttl = parse_duration_param("ttl", body.ttl, minimum=MIN_TOKEN_TTL).total_seconds() if body.ttl else None
    try:
        t = pki.require_enrollment().create_token(body.customer, actor=who, ttl_s=ttl, host_id=body.host)
    except PkiUnavailable as e:
        raise HTTPException(409, str(e)) from None
    except EnrollmentError as e:
        raise HTTPException(e.status, str(e)) from None
    assert pki.ca is not None
    return {"token": t.token, "id": t.id, "customer": t.customer_id, "host": t.host_id,
            "expires_ms": t.expires_ms, "ca_fingerprint": pki.ca.fingerprint, "enroll_url": pki.settings.enroll_url}


@router.get("/api/v1/pki/tokens")
def list_tokens(request: Request, _: Admin,
                include_spent: Annotated[bool, Query(alias="all")] = False) -> list[dict[str, Any]]:
    try:
        return _pki(request).require_enrollment().list_tokens(include_spent=include_spent)
    except PkiUnavailable as e:
        raise HTTPException(409, str(e)) from None


@router.delete("/api/v1/pki/tokens/{token_id}")
def withdraw_token(token_id: Annotated[str, Path(min_length=1, max_length=32)], request: Request,
                   who: Admin) -> dict[str, Any]:
    """End an unused enrollment token now."""
    try:
        return _pki(request).require_enrollment().withdraw_token(token_id, who)
    except PkiUnavailable as e:
        raise HTTPException(409, str(e)) from None
    except EnrollmentError as e:
        raise HTTPException(e.status, str(e)) from None


@router.post("/api/v1/pki/revoke")
def revoke(body: RevokeBody, request: Request, who: Admin) -> dict[str, Any]:
    pki = _pki(request)
    try:
        if body.host:
            revoked = pki.revoke_host(body.host, body.reason, who)
        else:
            revoked = [pki.revoke_serial(body.serial or "", body.reason, who)]
    except RevocationError as e:
        raise HTTPException(404 if body.host else 400, str(e)) from None
    return {"revoked": [{"serial": r.serial, "host_id": r.host_id, "revoked_ms": r.revoked_ms,
                         "revoked_by": r.revoked_by, "reason": r.reason} for r in revoked]}


@router.get("/api/v1/pki/certificates")
def list_certificates(request: Request, _: Viewer, host: str | None = None) -> list[dict[str, Any]]:
    pki = _pki(request)
    if pki.enrollment is None:
        return []
    return pki.enrollment.certificates(host)


router.include_router(public_router)


def create_enroll_api(app_state: Any) -> FastAPI:
    """The enrollment endpoint alone, for the HTTPS listener on ``tls.pki.enroll_listen``."""
    api = FastAPI(title="Patrol enrollment", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    api.state.collector = app_state

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    api.include_router(public_router)
    return api
