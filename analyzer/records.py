"""Typed records the analyzer writes to Redis and the api serves as they are."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class RunState(StrEnum):
    """Lifecycle of a run."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"


class KStar(BaseModel):
    """Edge index k* (1-based) under each rule of design section 7."""

    argmax: int
    weighted: int
    floor: int


class WindowRecord(BaseModel):
    """Metrics of one window of W update sketches, ending at snapshot `index` (optimizer `step`);
    `stride` s: the updates are x_i - x_(i-s) over the snapshots whose index is a multiple of s."""

    run_id: str
    group: str
    window: int
    stride: int = 1
    index: int
    step: int
    sigma: list[float]
    ratios: list[float]
    k_star: KStar
    edge_ratio: float
    gap: float
    g23: float
    energy: list[float]
    k95: int
    drift_speed: float
    direction_stability: float | None = None
    flags: list[str] = Field(default_factory=list)


class RunInfo(BaseModel):
    """A run's registry entry."""

    run_id: str
    project: str = "default"
    state: RunState
    created_at: float
    updated_at: float
    finished_at: float | None = None
    world: int = 1
    config: dict[str, Any] = Field(default_factory=dict)
    dropped: int = 0


class Alert(BaseModel):
    """One alert event: `type` names the rule (e.g. `edge.collapse`), `evidence` its values."""

    id: str
    type: str
    run_id: str
    group: str
    window: int
    stride: int = 1
    step: int
    index: int
    message: str
    evidence: dict[str, float] = Field(default_factory=dict)
    created_at: float
    detector: str | None = None
    confidence: float | None = None
