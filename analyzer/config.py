"""Analyzer settings: explicit arguments > `SPECTRAL_EDGE_*` environment > defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EdgeRule = Literal["argmax", "weighted", "floor"]


class AnalyzerSettings(BaseSettings):
    """Where the analyzer listens and stores, which windows it computes and when it alerts."""

    model_config = SettingsConfigDict(env_prefix="SPECTRAL_EDGE_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    bind: str = "tcp://127.0.0.1:5555"
    windows: list[int] = Field(default_factory=lambda: [10, 20, 30])
    edge_rule: EdgeRule = "weighted"
    collapse_threshold: float = Field(default=1.2, gt=0)
    plateau_min: float = Field(default=1.5, ge=0)
    plateau_windows: int = Field(default=3, ge=1)
    heartbeat_timeout: float = Field(default=60.0, gt=0)
    sweep_interval: float = Field(default=5.0, gt=0)

    @field_validator("windows")
    @classmethod
    def _valid_windows(cls, value: list[int]) -> list[int]:
        if not value or any(w < 2 or w > 1024 for w in value):
            raise ValueError("windows must be a non-empty list of lengths in 2..1024")
        return sorted(set(value))
