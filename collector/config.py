"""The collector's configuration (``collector.yaml``), validated with pydantic."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.configfile import ConfigError, format_validation_error, load_model, parse_duration, parse_size
from collector.ingest_validation.bounds import IngestBounds
from collector.pki_config import PkiConfig

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(_Strict):
    name: str
    email: str | None = None
    phone: str | None = None
    role: str | None = None


class Customer(_Strict):
    id: str
    name: str
    timezone: str = "UTC"
    language: Literal["zh", "en"] = "en"
    address: str | None = None
    contacts: list[Contact] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("must be 1-128 characters of letters, digits, '.', '_', ':' or '-'")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v


class ApiToken(_Strict):
    name: str
    role: Literal["viewer", "engineer", "admin"] = "viewer"
    token: str | None = None
    token_env: str | None = Field(None, description="read the token from this environment variable")

    @model_validator(mode="after")
    def _one_source(self) -> ApiToken:
        if bool(self.token) == bool(self.token_env):
            raise ValueError("set exactly one of token or token_env")
        return self

    def secret(self) -> str | None:
        return self.token if self.token else os.environ.get(self.token_env or "")


class ApiConfig(_Strict):
    listen: str = "127.0.0.1:8080"
    tokens: list[ApiToken] = Field(default_factory=list)


class TlsConfig(_Strict):
    cert: Path
    key: Path
    client_ca: Path | None = Field(None, description="CA that signs agent certificates; enables mutual TLS")
    pki: PkiConfig = Field(default_factory=PkiConfig, description="the collector's CA, enrollment, revocation")


class Limits(_Strict):
    max_message_bytes: Bytes = 4 * 2**20
    max_streams: int = Field(20000, ge=1)
    hello_timeout: Seconds = 10.0
    idle_timeout: Seconds = Field(300.0, description="a stream that sends nothing this long is ended; agents send a "
                                                     "heartbeat every 30 s when they have nothing else to say")
    keepalive: Seconds = 30.0
    keepalive_timeout: Seconds = 10.0
    ingest_queue: int = Field(2048, ge=16, description="batches waiting for the store before backpressure")


class Retention(_Strict):
    raw: Seconds = 2 * 86400.0
    rollup_1m: Seconds = 14 * 86400.0
    rollup_1h: Seconds = 730 * 86400.0
    events: Seconds = 90 * 86400.0


class StoreConfig(_Strict):
    url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite under data_dir")
    flush_interval: Seconds = Field(2.0, description="how often the 1-minute rollups are merged into the store")
    coarse_flush_interval: Seconds = Field(
        30.0, description="how often the hourly rollups and the latest values are merged into the store")

    @model_validator(mode="after")
    def _coarse_after_fine(self) -> StoreConfig:
        if self.coarse_flush_interval < self.flush_interval:
            raise ValueError(f"store.coarse_flush_interval ({self.coarse_flush_interval:g} s) must be at least "
                             f"store.flush_interval ({self.flush_interval:g} s)")
        return self


class ClusterConfig(_Strict):
    """Several collectors on one PostgreSQL store (see docs/scale-out.md); a lone collector needs nothing here."""

    heartbeat: Seconds = Field(5.0, description="how often a collector tells the group it is alive")
    lease_ttl: Seconds = Field(20.0, description="a silent leader is replaced after this long")
    relay_poll: Seconds = Field(0.5, description="how often diagnostics relayed through the store are picked up")

    @model_validator(mode="after")
    def _ttl(self) -> ClusterConfig:
        if self.lease_ttl < 3 * self.heartbeat:
            raise ValueError(f"lease_ttl ({self.lease_ttl:g} s) must be at least three heartbeats "
                             f"({3 * self.heartbeat:g} s), or a healthy leader would lose its lease")
        return self


class CollectorConfig(BaseModel):
    # Besides the core fields below, each registered feature has a top-level section (a mapping)
    # validated by its own model; any other key is an error.
    model_config = ConfigDict(extra="allow")

    data_dir: Path = Path("/var/lib/patrol")
    listen: str = "127.0.0.1:4317"
    insecure: bool = Field(False, description="plaintext gRPC; only for the embedded demo and loopback tests")
    tls: TlsConfig | None = None
    collector_id: str | None = None
    offline_after: Seconds = 90.0
    limits: Limits = Field(default_factory=Limits)
    retention: Retention = Field(default_factory=Retention)
    store: StoreConfig = Field(default_factory=StoreConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    customers: list[Customer] = Field(default_factory=list)
    max_series_per_host: int = Field(20000, ge=1)
    ingest: IngestBounds = Field(default_factory=IngestBounds)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    log_level: str = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _known_sections(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        sections = feature_sections()
        for key, value in data.items():
            if key in cls.model_fields:
                continue
            if key not in sections:
                known = sorted([*cls.model_fields, *sections])
                raise ValueError(f"unknown section {key!r}; the sections are {', '.join(known)}")
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"section {key!r} must be a mapping, got {type(value).__name__}")
        return data

    @field_validator("listen")
    @classmethod
    def _address(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected host:port, got {v!r}")
        return v

    @model_validator(mode="after")
    def _transport(self) -> CollectorConfig:
        if self.tls is None and not self.insecure:
            raise ValueError("set tls (cert and key) for the gRPC port, or insecure: true for a loopback-only demo")
        return self

    @model_validator(mode="after")
    def _unique_customers(self) -> CollectorConfig:
        seen: set[str] = set()
        for c in self.customers:
            if c.id in seen:
                raise ValueError(f"customer id {c.id!r} is defined twice")
            seen.add(c.id)
        return self

    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{(self.data_dir / 'patrol.sqlite').resolve()}"

    def customer(self, customer_id: str) -> Customer | None:
        return next((c for c in self.customers if c.id == customer_id), None)

    def section(self, name: str) -> Any:
        """A feature section validated by its own model (see :func:`section_models`)."""
        cache: dict[str, Any] = self.__dict__.setdefault("_sections", {})
        if name not in cache:
            cache[name] = section_models()[name].model_validate(self.raw_section(name))
        return cache[name]

    def raw_section(self, name: str) -> dict[str, Any]:
        """A feature section as written in the file ({} when absent)."""
        return dict((self.model_extra or {}).get(name) or {})


def feature_sections() -> dict[str, str]:
    from collector.features import config_sections

    return config_sections()


def section_models() -> dict[str, type[BaseModel]]:
    """The pydantic model of each feature section, as the features declare them."""
    from collector.features import resolve

    return {key: resolve(ref) for key, ref in feature_sections().items()}


def load_collector_config(path: Path | str) -> CollectorConfig:
    cfg = load_model(path, CollectorConfig)
    base = Path(path).resolve().parent
    if not cfg.data_dir.is_absolute():
        cfg.data_dir = (base / cfg.data_dir).resolve()
    for name, model in section_models().items():
        try:
            cfg.__dict__.setdefault("_sections", {})[name] = model.model_validate(
                cfg.raw_section(name), context={"config_dir": base})
        except ValidationError as e:
            text = format_validation_error(path, e)
            raise ConfigError(text.replace("  field ", f"  field {name}.")) from None
    return cfg
