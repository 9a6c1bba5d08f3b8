"""Typed records the analyzer writes to Redis and the api serves as they are."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


_NUMBERED = {"sigma": "sigma", "ratios": "ratio", "energy": "energy"}


def flat_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A window record (as stored JSON, parsed) with scalar columns only: lists numbered
    (`sigma_1`, `ratio_1`, `energy_1`, ...), k* one column per rule, flags joined by `;`."""
    row: dict[str, Any] = {}
    for name, value in record.items():
        if name in _NUMBERED:
            row.update({f"{_NUMBERED[name]}_{i}": v for i, v in enumerate(value, start=1)})
        elif name == "k_star":
            row.update({f"k_star_{rule}": k for rule, k in value.items()})
        elif name == "flags":
            row["flags"] = ";".join(value)
        else:
            row[name] = value
    return row


class Condition(StrEnum):
    """What a user rule watches for in a metric."""

    ABOVE = "above"
    BELOW = "below"
    NONFINITE = "nonfinite"
    CHANGE = "change"
    ZSCORE = "zscore"
    STALL = "stall"


class Rule(BaseModel):
    """A user-defined alert rule on one logged scalar or window metric.

    `above`/`below` compare with `threshold`; `nonfinite` fires on NaN or +-Inf; `change` on a
    relative change |v / previous - 1| >= `threshold`; `zscore` on |v - mean| / std >= `threshold`
    over the `lookback` values before it; `stall` when the metric has not arrived for `seconds`.
    A window metric is a field of the flat record (`edge_ratio`, `g23`, `sigma_1`,
    `k_star_weighted`, ...). Scope: project, run, group and W (None: any). Each rule fires at most
    once per run and series.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    name: str = Field("", max_length=200)
    metric: str = Field(min_length=1, max_length=128)
    source: Literal["scalar", "window"] = "scalar"
    condition: Condition
    threshold: float | None = None
    lookback: int = Field(20, ge=2, le=10_000)
    seconds: float | None = Field(None, gt=0, le=30 * 86_400)
    project: str | None = Field(None, max_length=128)
    run_id: str | None = Field(None, max_length=128)
    group: str | None = Field(None, max_length=128)
    window: int | None = Field(None, ge=2, le=1024)

    @model_validator(mode="after")
    def _complete(self) -> Rule:
        c, threshold = self.condition, self.threshold
        needs_threshold = c not in (Condition.NONFINITE, Condition.STALL)
        if needs_threshold and (threshold is None or not math.isfinite(threshold)):
            raise ValueError(f"condition {c.value!r} needs a finite threshold")
        positive = threshold is not None and threshold > 0
        if c in (Condition.CHANGE, Condition.ZSCORE) and not positive:
            raise ValueError(f"condition {c.value!r} needs a threshold > 0")
        if self.condition is Condition.STALL and self.seconds is None:
            raise ValueError("condition 'stall' needs seconds")
        if self.source == "scalar" and (self.group is not None or self.window is not None):
            raise ValueError("group and window scope window metrics only (source 'window')")
        return self

    @property
    def type(self) -> str:
        """The alert type its alerts carry: `rule.<condition>`."""
        return f"rule.{self.condition.value}"

    def applies(self, project: str, run_id: str, group: str = "all", window: int = 0) -> bool:
        """Whether the rule's scope covers this run (and series, for window metrics)."""
        wanted = (self.project, self.run_id, self.group, self.window)
        given = (project, run_id, group, window)
        return all(w is None or w == g for w, g in zip(wanted, given, strict=True))
