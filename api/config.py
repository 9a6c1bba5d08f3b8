"""Api settings: explicit arguments > `SPECTRAL_EDGE_*` environment > defaults."""

from __future__ import annotations

import socket

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Where the api listens and reads, and how the webhook dispatcher delivers.

    `webhook_consumer` names this process in the dispatcher's Redis consumer group; it defaults to
    the host name so a restarted api finds (and finishes) its own unacknowledged alerts. Replicas
    sharing one Redis need distinct names.
    """

    model_config = SettingsConfigDict(env_prefix="SPECTRAL_EDGE_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    webhook_backoff_base: float = Field(default=1.0, gt=0)
    webhook_backoff_cap: float = Field(default=60.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_deliveries_kept: int = Field(default=100, ge=1)
    webhook_consumer: str = Field(default_factory=socket.gethostname, min_length=1)

    @model_validator(mode="after")
    def _cap_above_base(self) -> ApiSettings:
        if self.webhook_backoff_cap < self.webhook_backoff_base:
            raise ValueError("webhook_backoff_cap must be >= webhook_backoff_base")
        return self
