"""Api settings: explicit arguments > `SPECTRAL_EDGE_*` environment > defaults."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

from pydantic import Field, FilePath, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.allow_list import AllowList


class ApiSettings(BaseSettings):
    """Where the api listens and reads, and how the webhook dispatcher delivers.

    `redis_url` is redis-py's: `rediss://host:port/0?ssl_ca_certs=/path/ca.crt` for TLS,
    `redis://user:password@host:port/0` for an ACL user (see `analyzer.service.store`).
    `webhook_consumer` names this process in the dispatcher's Redis consumer group; it defaults to
    the host name so a restarted api finds (and finishes) its own unacknowledged alerts. Replicas
    sharing one Redis need distinct names. `open` serves without tokens and is accepted only with a
    loopback `host`; `sse_block` bounds each blocking Redis read of a live stream (seconds).
    `webhook_allow` lists CIDRs and host names that webhooks may reach although private or loopback
    (environment: comma-separated); `webhook_cooldown` is the per (rule, run) alert cooldown (s).
    `ssl_certfile` (PEM, with `ssl_keyfile` unless it holds the key too) serves the api over TLS,
    for deployments without a reverse proxy in front.
    """

    model_config = SettingsConfigDict(env_prefix="SPECTRAL_EDGE_", extra="ignore")

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", repr=False)  # may hold a password
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    webhook_backoff_base: float = Field(default=1.0, gt=0)
    webhook_backoff_cap: float = Field(default=60.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_deliveries_kept: int = Field(default=100, ge=1)
    webhook_consumer: str = Field(default_factory=socket.gethostname, min_length=1)
    webhook_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_cooldown: float = Field(default=300.0, ge=0)
    webhook_claim_idle: float = Field(default=60.0, gt=0)
    webhook_rotation_grace: float = Field(default=86400.0, ge=0)
    webhook_message_ttl: float = Field(default=7 * 86400.0, gt=0)
    open: bool = False
    sse_block: float = Field(default=1.0, gt=0, le=30)
    ssl_certfile: FilePath | None = None
    ssl_keyfile: FilePath | None = None

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_allow")
    @classmethod
    def _valid_allow(cls, value: list[str]) -> list[str]:
        AllowList.parse(value)
        return value

    @model_validator(mode="after")
    def _cap_above_base(self) -> ApiSettings:
        if self.webhook_backoff_cap < self.webhook_backoff_base:
            raise ValueError("webhook_backoff_cap must be >= webhook_backoff_base")
        return self

    @model_validator(mode="after")
    def _key_with_certificate(self) -> ApiSettings:
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("ssl_keyfile needs ssl_certfile")
        return self

    @model_validator(mode="after")
    def _open_only_on_loopback(self) -> ApiSettings:
        if self.open and not is_loopback(self.host):
            raise ValueError(f"open mode (no tokens) is refused on non-loopback host {self.host!r}")
        return self


def is_loopback(host: str) -> bool:
    """Whether `host` names a loopback address (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
