"""The three phases of an edge-ratio series R (design section 7): rise, plateau, collapse.

Reference (retrospective) rule over a finished series R_0..R_{n-1}:
- peak p = the first argmax of R; no phases at all when R_p < rise_level;
- plateau = the maximal contiguous stretch [a, b] around p with R >= fraction * R_p;
- collapse = the first window after p with R < tau (None if there is none);
- rise = the first window of the contiguous stretch ending at a with R >= rise_level.

Live detector (causal: window i sees R_0..R_i only), each phase announced once, in order:
- rise: the window that closes `confirm` consecutive windows with R >= rise_level;
- plateau: after the rise, the first window with R >= fraction * (running peak) while the
  running peak grew by at most `margin` (relative) over the last `confirm` windows;
- collapse: after the plateau, the first window with R < tau.
Windows must come in index order; an index at or below the last one seen is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from analyzer.errors import StateError

PHASES = ("rise", "plateau", "collapse")
_STATE_VERSION = 1


@dataclass(frozen=True)
class PhaseEvent:
    """A phase change: which phase starts, at which window and step, and the R values behind it."""

    phase: str
    index: int
    step: int
    edge_ratio: float
    peak: float


@dataclass(frozen=True)
class Phases:
    """Reference phases of a finished series (window positions in the series, 0-based)."""

    peak: int | None
    rise: int | None
    plateau: tuple[int, int] | None
    collapse: int | None


def reference_phases(
    edge_ratio: Sequence[float] | np.ndarray,
    tau: float = 1.20,
    fraction: float = 0.85,
    rise_level: float = 1.5,
) -> Phases:
    """The retrospective rule of the module docstring over a whole series."""
    r = np.asarray(edge_ratio, dtype=np.float64)
    if r.size == 0 or r.max() < rise_level:
        return Phases(None, None, None, None)
    p = int(np.argmax(r))
    start, end = _stretch(r >= fraction * r[p], p)
    rise, _ = _stretch(r >= rise_level, start)
    below = np.flatnonzero(r[p + 1 :] < tau)
    collapse = p + 1 + int(below[0]) if below.size else None
    return Phases(peak=p, rise=rise, plateau=(start, end), collapse=collapse)


def _stretch(mask: np.ndarray, at: int) -> tuple[int, int]:
    """The maximal run of True in `mask` containing position `at`."""
    off_before = np.flatnonzero(~mask[:at])
    off_after = np.flatnonzero(~mask[at:])
    start = int(off_before[-1]) + 1 if off_before.size else 0
    end = at + int(off_after[0]) - 1 if off_after.size else mask.size - 1
    return start, end


@dataclass
class PhaseDetector:
    """The live detector of the module docstring with its running state."""

    tau: float = 1.20
    fraction: float = 0.85
    rise_level: float = 1.5
    confirm: int = 3
    margin: float = 0.05
    phase: str = ""
    peaks: list[float] = field(default_factory=list)
    rise_streak: int = 0
    last_index: int | None = None

    def update(self, index: int, step: int, edge_ratio: float) -> list[PhaseEvent]:
        """Feed the next window's R; returns the phases that start at this window."""
        if self.last_index is not None and index <= self.last_index:
            return []
        self.last_index = index
        r = float(edge_ratio)
        self.peaks = [*self.peaks, max(self.peak, r)][-(self.confirm + 1) :]
        self.rise_streak = self.rise_streak + 1 if r >= self.rise_level else 0
        found = []
        for phase in PHASES[PHASES.index(self.phase) + 1 if self.phase else 0 :]:
            if not self._starts(phase, r):
                break
            self.phase = phase
            found.append(PhaseEvent(phase, index, step, r, self.peak))
        return found

    @property
    def peak(self) -> float:
        """The running peak of R (0 before the first window)."""
        return self.peaks[-1] if self.peaks else 0.0

    def _starts(self, phase: str, r: float) -> bool:
        if phase == "rise":
            return self.rise_streak >= self.confirm
        if phase == "plateau":
            settled = len(self.peaks) > self.confirm
            settled = settled and self.peak <= (1.0 + self.margin) * self.peaks[0]
            return settled and r >= self.fraction * self.peak
        return r < self.tau

    def to_bytes(self) -> bytes:
        """Serialise settings and state (compact JSON, stable key order)."""
        state = {"v": _STATE_VERSION, **asdict(self)}
        return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PhaseDetector:
        """Restore a detector serialised by `to_bytes`."""
        try:
            state = json.loads(data)
            if state.pop("v") != _STATE_VERSION:
                raise ValueError("state version")
            detector = cls(**state)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"unreadable phase-detector state: {exc}") from None
        if detector.phase not in ("", *PHASES):
            raise StateError(f"unreadable phase-detector state: phase {detector.phase!r}")
        return detector
