"""Causal alert rules over one edge-ratio series (run, group, W); state serialises to bytes.

`edge.collapse`: the plateau is reached once the running peak of R is at least `plateau_min` and R
stayed >= PLATEAU_FRACTION * peak for `plateau_windows` consecutive windows; after that, the first
window with R < `collapse_threshold` fires, once per series. Windows must come in index order; an
index at or below the last one seen is ignored, so replays are harmless.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from analyzer.errors import StateError

PLATEAU_FRACTION = 0.85
_STATE_VERSION = 1


@dataclass(frozen=True)
class CollapseEvent:
    """The collapse that fired: where, how low, and against which peak."""

    index: int
    step: int
    edge_ratio: float
    peak: float
    threshold: float


@dataclass
class CollapseDetector:
    """The `edge.collapse` rule with its running state."""

    plateau_min: float = 1.5
    plateau_windows: int = 3
    collapse_threshold: float = 1.2
    peak: float = 0.0
    streak: int = 0
    plateau: bool = False
    fired: bool = False
    last_index: int | None = None

    rule = "edge.collapse"

    def update(self, index: int, step: int, edge_ratio: float) -> CollapseEvent | None:
        """Feed the next window's edge ratio; returns the event on the one window that fires."""
        if self.last_index is not None and index <= self.last_index:
            return None
        self.last_index = index
        if self.fired:
            return None
        self.peak = max(self.peak, edge_ratio)
        on_plateau = self.peak >= self.plateau_min and edge_ratio >= PLATEAU_FRACTION * self.peak
        self.streak = self.streak + 1 if on_plateau else 0
        self.plateau = self.plateau or self.streak >= self.plateau_windows
        if not (self.plateau and edge_ratio < self.collapse_threshold):
            return None
        self.fired = True
        return CollapseEvent(index, step, edge_ratio, self.peak, self.collapse_threshold)

    def to_bytes(self) -> bytes:
        """Serialise settings and state (compact JSON, stable key order)."""
        state = {"v": _STATE_VERSION, **asdict(self)}
        return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> CollapseDetector:
        """Restore a detector serialised by `to_bytes`."""
        try:
            state = json.loads(data)
            if state.pop("v") != _STATE_VERSION:
                raise ValueError("state version")
            return cls(**state)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"unreadable collapse-detector state: {exc}") from None
