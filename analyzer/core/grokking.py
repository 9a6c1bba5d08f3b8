"""Alarm rules over one series each, relative to the run's own history; pure and resumable.

Each rule sees one number per window (or per logged scalar), fires at most once, and keeps its
state in plain fields so that `dataclasses.asdict` serialises it:

- `RelativeDrop`: the level (median of the last `smooth` values) stays at or below `fraction` x
  its running peak for `persist` consecutive windows; the peak is tracked after `warmup` windows.
  Fed the edge ratio R it is `edge.decline` (detector `edge_ratio`), fed g23 = lambda2 - lambda3
  `g23.decline` (detector `g23`), fed the validation loss `val_loss.decline`.
- `BothDrops` (detector `edge_and_g23`): both of the above have fired.
- `KStarShift` (detector `k_star`): the baseline is the most common k* of the `baseline` windows
  after `warmup`; it fires when k* differs from it for `persist` consecutive windows.
- `DefectAlarm` (detector `commutator`): the baseline is the median of the first `baseline`
  commutator-defect values; it fires when D >= `factor` x baseline and D > `floor` for `persist`
  measurements in a row (design 8).
- `Threshold`: the first value >= `level` (test accuracy crossing the grok threshold).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Evidence = dict[str, float]
SPECTRAL_DETECTORS = ("edge_ratio", "g23", "k_star", "edge_and_g23")
DEFAULT_DETECTORS = ("edge_ratio",)


@dataclass
class RelativeDrop:
    """A fall of a series' smoothed level to `fraction` of its own running peak."""

    fraction: float = 0.5
    warmup: int = 5
    smooth: int = 5
    persist: int = 3
    recent: list[float] = field(default_factory=list)
    seen: int = 0
    peak: float = 0.0
    streak: int = 0
    fired: bool = False

    @property
    def level(self) -> float:
        """The current level: the median of the last `smooth` values (0 before any)."""
        return float(statistics.median(self.recent)) if self.recent else 0.0

    def update(self, value: float) -> Evidence | None:
        """Feed the next window's value; the evidence on the one window that fires.

        After it fired the rule keeps its level current but never fires again.
        """
        if self.fired:
            self.recent = [*self.recent, value][-self.smooth :]
            return None
        self.seen += 1
        if self.seen <= self.warmup:
            return None
        self.recent = [*self.recent, value][-self.smooth :]
        if len(self.recent) < self.smooth:
            return None
        level = self.level
        self.peak = max(self.peak, level)
        low = self.peak > 0.0 and level <= self.fraction * self.peak
        self.streak = self.streak + 1 if low else 0
        if self.streak < self.persist:
            return None
        self.fired = True
        return {"value": level, "baseline": self.peak, "ratio": level / self.peak}


@dataclass
class KStarShift:
    """A lasting change of the edge index k* away from the run's early, most common k*."""

    warmup: int = 5
    baseline: int = 10
    persist: int = 5
    early: list[int] = field(default_factory=list)
    seen: int = 0
    streak: int = 0
    fired: bool = False

    def update(self, k_star: int) -> Evidence | None:
        """Feed the next window's k*; the evidence on the one window that fires."""
        if self.fired:
            return None
        self.seen += 1
        if self.seen <= self.warmup:
            return None
        if len(self.early) < self.baseline:
            self.early.append(k_star)
            return None
        usual = Counter(self.early).most_common(1)[0][0]
        self.streak = self.streak + 1 if k_star != usual else 0
        if self.streak < self.persist:
            return None
        self.fired = True
        return {"value": float(k_star), "baseline": float(usual)}


@dataclass
class BothDrops:
    """Fires once both the edge-ratio drop and the g23 decline have fired (at the later one)."""

    edge: RelativeDrop = field(default_factory=RelativeDrop)
    g23: RelativeDrop = field(default_factory=RelativeDrop)
    fired: bool = False

    def update(self, values: tuple[float, float]) -> Evidence | None:
        """Feed the next window's (edge ratio, g23); the evidence when the second one fires."""
        if self.fired:
            return None
        self.edge.update(values[0])
        self.g23.update(values[1])
        if not (self.edge.fired and self.g23.fired):
            return None
        self.fired = True
        return {
            "edge_value": self.edge.level,
            "edge_baseline": self.edge.peak,
            "g23_value": self.g23.level,
            "g23_baseline": self.g23.peak,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> BothDrops:
        """Restore from `dataclasses.asdict` output."""
        return cls(RelativeDrop(**state["edge"]), RelativeDrop(**state["g23"]), state["fired"])


@dataclass
class DefectAlarm:
    """The commutator-defect alarm: D above `factor` x its early median and above `floor`."""

    factor: float = 10.0
    floor: float = 20.0
    baseline: int = 3
    persist: int = 1
    early: list[float] = field(default_factory=list)
    streak: int = 0
    fired: bool = False

    def update(self, defect: float) -> Evidence | None:
        """Feed the next measurement; the evidence on the one measurement that fires."""
        if self.fired:
            return None
        if len(self.early) < self.baseline:
            self.early.append(defect)
            return None
        reference = statistics.median(self.early)
        high = defect >= self.factor * reference and defect > self.floor
        self.streak = self.streak + 1 if high else 0
        if self.streak < self.persist:
            return None
        self.fired = True
        return {"value": defect, "baseline": reference, "ratio": defect / max(reference, 1e-300)}


@dataclass
class Threshold:
    """The first value at or above `level`."""

    level: float = 0.9
    fired: bool = False

    def update(self, value: float) -> Evidence | None:
        """Feed the next value; the evidence when it first reaches `level`."""
        if self.fired or value < self.level:
            return None
        self.fired = True
        return {"value": value, "threshold": self.level}


@dataclass(frozen=True)
class GrokkingConfig:
    """Which spectral detectors run, their thresholds, and the scalar alarms'.

    The spectral rules run on the series of the window lengths in `windows` only (all when
    empty). The defaults are the settings `python -m benchmarks.grokking.evaluate --full` chose on
    its tuning seeds (`benchmarks/grokking/results/results.md`, "Live rules"): `edge_ratio` and
    `g23` as tuned at W = 10, stride 1, the commutator alarm as tuned on the logged defects.
    """

    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    windows: tuple[int, ...] = (10,)
    warmup: int = 5
    edge_fraction: float = 0.218943
    edge_smooth: int = 10
    edge_persist: int = 1
    g23_fraction: float = 0.001875
    g23_smooth: int = 5
    g23_persist: int = 10
    k_star_baseline: int = 10
    k_star_persist: int = 20
    k_star_rule: str = "weighted"
    grok_threshold: float = 0.9
    defect_factor: float = 51.052154
    defect_floor: float = 10.0
    defect_persist: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.detectors) - set(SPECTRAL_DETECTORS)
        if unknown:
            raise ValueError(f"unknown detectors {sorted(unknown)}; known: {SPECTRAL_DETECTORS}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GrokkingConfig:
        """Restore from `dataclasses.asdict` output (JSON lists back to tuples)."""
        listed = {name: tuple(raw[name]) for name in ("detectors", "windows")}
        return cls(**{**raw, **listed})

    @classmethod
    def from_settings(cls, settings: object) -> GrokkingConfig:
        """Attributes `grokking_<field>` of `settings` (when present and not None) override."""
        overrides = {
            name: getattr(settings, f"grokking_{name}")
            for name in cls.__dataclass_fields__
            if getattr(settings, f"grokking_{name}", None) is not None
        }
        for name in ("detectors", "windows"):
            if name in overrides:
                overrides[name] = tuple(overrides[name])
        return cls(**overrides)

    def rules(self) -> dict[str, SpectralRule]:
        """Fresh states of the enabled spectral rules, by detector name."""
        w = self.warmup

        def edge() -> RelativeDrop:
            return RelativeDrop(self.edge_fraction, w, self.edge_smooth, self.edge_persist)

        def g23() -> RelativeDrop:
            return RelativeDrop(self.g23_fraction, w, self.g23_smooth, self.g23_persist)

        made: dict[str, SpectralRule] = {
            "edge_ratio": edge(),
            "g23": g23(),
            "k_star": KStarShift(self.warmup, self.k_star_baseline, self.k_star_persist),
            "edge_and_g23": BothDrops(edge(), g23()),
        }
        return {name: made[name] for name in self.detectors}


SpectralRule = RelativeDrop | KStarShift | BothDrops


def restore_rule(name: str, state: dict[str, Any]) -> SpectralRule:
    """A spectral rule of detector `name` from its `dataclasses.asdict` state."""
    if name == "edge_and_g23":
        return BothDrops.from_dict(state)
    return KStarShift(**state) if name == "k_star" else RelativeDrop(**state)
