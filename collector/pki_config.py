"""The ``tls.pki`` part of ``collector.yaml``: the collector's own CA, agent enrollment, revocation.

```yaml
tls:
  cert: /var/lib/patrol/pki/server.crt       # the gRPC port's certificate (patrol-collector pki init)
  key: /var/lib/patrol/pki/server.key
  client_ca: /var/lib/patrol/pki/ca.crt      # agents must present a certificate from this CA (mutual TLS)
  pki:
    enroll_listen: 0.0.0.0:4318              # HTTPS endpoint where agents trade a token for a certificate
    enroll_url: https://patrol.example.net:4318   # printed with new tokens
    token_ttl: 24h
    cert_validity: 365d
```

Without ``ca_cert``/``ca_key`` the CA lives in ``<data_dir>/pki`` and is created on the first start.
It sits beside :mod:`collector.config` (which embeds it in ``TlsConfig``) rather than in the pki
package, so that the core configuration does not import a feature package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from agent.configfile import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]

DEFAULT_DIR = "pki"  # under data_dir


class PkiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="the collector's own CA and enrollment; false when agent "
                                            "certificates come from another PKI (revocation still applies)")
    ca_cert: Path | None = Field(None, description="the CA certificate; default <data_dir>/pki/ca.crt")
    ca_key: Path | None = Field(None, description="the CA private key; default <data_dir>/pki/ca.key")
    enroll_listen: str | None = Field(None, description="host:port of an HTTPS enrollment endpoint for agents, "
                                                         "served with tls.cert/tls.key")
    enroll_url: str | None = Field(None, description="the URL agents use to enroll, printed with new tokens")
    token_ttl: Seconds = 86400.0
    max_token_ttl: Seconds = 30 * 86400.0
    cert_validity: Seconds = 365 * 86400.0
    crl_refresh: Seconds = Field(30.0, description="how often revocations made by other collectors sharing "
                                                   "the store are picked up")

    @field_validator("enroll_listen")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is None:
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected host:port, got {v!r}")
        return v

    @field_validator("enroll_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError(f"expected an https:// URL, got {v!r}")
        return v.rstrip("/") if v else v

    @model_validator(mode="after")
    def _pair(self) -> PkiConfig:
        if (self.ca_cert is None) != (self.ca_key is None):
            raise ValueError("set both ca_cert and ca_key, or neither (the CA then lives under data_dir/pki)")
        if self.token_ttl > self.max_token_ttl:
            raise ValueError("token_ttl is longer than max_token_ttl")
        return self

    def ca_paths(self, data_dir: Path) -> tuple[Path, Path]:
        if self.ca_cert is not None and self.ca_key is not None:
            return self.ca_cert, self.ca_key
        base = data_dir / DEFAULT_DIR
        return base / "ca.crt", base / "ca.key"
