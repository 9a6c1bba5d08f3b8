"""Analyzer settings: explicit arguments > `SPECTRAL_EDGE_*` environment > defaults."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

EdgeRule = Literal["argmax", "weighted", "floor"]
DEFAULT_STRIDES = (1,)  # the strides every (group, W) is computed at unless configured
MAX_STRIDE = 1000


class AnalyzerSettings(BaseSettings):
    """Where the analyzer listens and stores, which windows it computes and when it alerts.

    Timeouts in seconds: `assembly_timeout` after a snapshot's first partial sketch it is stored
    from the partials present, flagged incomplete; `gap_timeout` after a series stalls on a
    missing snapshot it skips it, flagging the spanning windows `gap`. Retention per run:
    `keep_records` per series (run, group, W, stride), `keep_alerts` in the run's alert stream,
    `keep_scalars` logged scalar rows. `batch_max` messages are drained per loop iteration.
    Limits (`analyzer.service.admission`): at most `max_active_runs` running runs per project and
    `new_runs_per_minute` new runs per producer identity (CURVE key, else peer address); a run
    that no sketch or scalars reached is removed `empty_run_ttl` seconds after its START.
    `curve_secret_key` (Z85) turns on CURVE; `curve_clients` lists the producers' public keys
    admitted (empty: any producer that knows the server's public key). Without CURVE, a `bind`
    reachable from other machines is refused unless `insecure` says so. Ownership: each run is
    applied by one analyzer at a time, the holder of its lease in Redis, taken by the first
    analyzer to apply it and renewed by every message for `lease` seconds (0: no ownership, any
    analyzer applies any message). `name` identifies this analyzer in leases (default: host and
    endpoint, so a restarted analyzer keeps its runs). The sweep looks at up to `sweep_max` due
    runs of the deadline index per round. The running runs per project (for the limits) are
    recounted from the registry every `registry_refresh` seconds, and on a START refused for a full
    project at most every `sweep_interval`. `strides`: each stride s
    is a series of its own per (group, W), its updates x_i - x_(i-s) over the snapshots whose index
    is a multiple of s (see `analyzer.service.series`).
    """

    model_config = SettingsConfigDict(env_prefix="SPECTRAL_EDGE_", extra="ignore")

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", repr=False)  # may hold a password
    redis_cluster: bool = False
    bind: str = "tcp://127.0.0.1:5555"
    windows: list[int] = Field(default_factory=lambda: [10, 20, 30])
    strides: list[int] = Field(default_factory=lambda: list(DEFAULT_STRIDES))
    edge_rule: EdgeRule = "weighted"
    collapse_threshold: float = Field(default=1.2, gt=0)
    plateau_min: float = Field(default=1.5, ge=0)
    plateau_windows: int = Field(default=3, ge=1)
    heartbeat_timeout: float = Field(default=60.0, gt=0)
    sweep_interval: float = Field(default=5.0, gt=0)
    sweep_max: int = Field(default=2000, ge=1)
    registry_refresh: float = Field(default=60.0, gt=0)
    lease: float = Field(default=30.0, ge=0)
    name: str | None = Field(default=None, min_length=1, max_length=256)
    assembly_timeout: float = Field(default=30.0, gt=0)
    gap_timeout: float = Field(default=60.0, gt=0)
    keep_records: int = Field(default=100_000, ge=1)
    keep_alerts: int = Field(default=10_000, ge=1)
    keep_scalars: int = Field(default=100_000, ge=1)
    batch_max: int = Field(default=1024, ge=1)
    max_active_runs: int = Field(default=1000, ge=1)
    new_runs_per_minute: int = Field(default=120, ge=1)
    empty_run_ttl: float = Field(default=3600.0, gt=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    curve_secret_key: str | None = Field(default=None, min_length=40, max_length=40, repr=False)
    curve_clients: list[str] = Field(default_factory=list)
    insecure: bool = False

    @field_validator("windows")
    @classmethod
    def _valid_windows(cls, value: list[int]) -> list[int]:
        if not value or any(w < 2 or w > 1024 for w in value):
            raise ValueError("windows must be a non-empty list of lengths in 2..1024")
        return sorted(set(value))

    @field_validator("strides")
    @classmethod
    def _valid_strides(cls, value: list[int]) -> list[int]:
        if not value or any(s < 1 or s > MAX_STRIDE for s in value):
            raise ValueError(f"strides must be a non-empty list of strides in 1..{MAX_STRIDE}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _curve_off_loopback(self) -> AnalyzerSettings:
        if self.curve_secret_key is None and not self.insecure and not is_local(self.bind):
            raise PydanticCustomError("insecure_bind", INSECURE_BIND, {"bind": self.bind})
        return self


INSECURE_BIND = (
    "refusing to bind {bind} without CURVE: anyone who reaches it could create runs, unencrypted. "
    "Give CURVE keys (`spectral-edge keys create DIR`, then `--curve-keys DIR`), "
    "or pass --insecure (SPECTRAL_EDGE_INSECURE=true) to accept that."
)


def is_local(endpoint: str) -> bool:
    """Whether a ZeroMQ endpoint is reachable from this machine only (ipc, inproc, loopback TCP)."""
    scheme, _, address = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    host = address.rpartition(":")[0].strip("[]")
    if scheme != "tcp" or host == "localhost":
        return scheme == "tcp"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
