"""The ``export`` section of collector.yaml: where raw samples and events go besides the state store."""

from __future__ import annotations

import os
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from collector.config import Seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InfluxExport(_Strict):
    """An InfluxDB 2.x (or anything that speaks its ``/api/v2/write``) target.

    The token is read from ``token`` or, better, from the environment variable named by ``token_env``;
    it is never logged. Neither is needed for a target without authentication (VictoriaMetrics).
    """

    url: str = Field(description="base URL, e.g. http://influxdb:8086")
    org: str = Field(description="organization name or id (required by the write API; VictoriaMetrics ignores it)")
    bucket: str = Field(description="bucket the points are written to")
    token: SecretStr | None = None
    token_env: str | None = Field(None, description="read the token from this environment variable")
    batch_size: int = Field(5000, ge=1, le=100_000, description="lines per write request")
    flush_interval: Seconds = Field(1.0, description="how often new data is picked up and partial batches written")
    max_queue: int = Field(100_000, ge=1, description="points held in memory; the rest waits in the store")
    timeout: Seconds = Field(10.0, description="HTTP timeout of one write request")
    gzip_level: int = Field(1, ge=0, le=9, description="gzip level of request bodies; 0 sends them uncompressed")
    verify_ssl: bool = True
    ssl_ca_cert: str | None = Field(None, description="CA bundle for an https URL with a private CA")
    retry_initial: Seconds = Field(1.0, description="first delay after a failed write; doubles up to retry_max")
    retry_max: Seconds = 60.0
    events: bool = Field(True, description="export log events (measurement 'events') too")
    start_from: Literal["oldest", "newest"] = Field(
        "oldest", description="where a collector that never exported starts: the oldest retained raw batch or now")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http:// or https:// URL such as http://influxdb:8086, got {v!r}")
        return v.rstrip("/")

    @field_validator("bucket", "org")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _token_source(self) -> InfluxExport:
        if self.token is not None and self.token_env:
            raise ValueError("set at most one of token or token_env")
        if self.token_env and self.token_env not in os.environ:
            raise ValueError(f"environment variable {self.token_env} (token_env) is not set; export the "
                             "InfluxDB API token in it before starting the collector")
        if self.retry_max < self.retry_initial:
            raise ValueError(f"retry_max ({self.retry_max:g}s) must not be below retry_initial "
                             f"({self.retry_initial:g}s)")
        return self

    def secret(self) -> str:
        """The API token ('' when the target needs none)."""
        if self.token is not None:
            return self.token.get_secret_value()
        if self.token_env:
            return os.environ.get(self.token_env, "")
        return ""


class ExportConfig(_Strict):
    influx: InfluxExport | None = Field(None, description="InfluxDB v2 write API target; unset: no export")
