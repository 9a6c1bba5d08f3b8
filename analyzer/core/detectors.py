"""Detector banks the analyzer drives: one per series (run, group, W, stride), one per run.

`SeriesDetectors.update(record)` feeds a window record to the `edge.collapse` rule
(`CollapseDetector`: the plateau is reached once the running peak of R is at least `plateau_min`
and R stayed >= PLATEAU_FRACTION * peak for `plateau_windows` windows; then the first window with
R < `collapse_threshold` fires), the live phases (`analyzer.core.phases`, tau =
`collapse_threshold`, rise level = `plateau_min`, confirm = `plateau_windows`: `phase.rise`,
`phase.plateau`, `phase.collapse`) and the enabled spectral rules of `analyzer.core.grokking`
(`edge.decline`, `g23.decline`, `edge_g23.decline`, `k_star.shift`). `ScalarDetectors.update(step,
values)` turns logged scalars into `grokking.generalized` (`test_acc` or `val_acc` reaching the grok
threshold), `memorisation.detected` (`train_acc` first >= 0.99), `commutator.rise` (logged
`commutator_defect`) and `val_loss.decline` (logged `test_loss` or `val_loss` at or below
VAL_LOSS_FRACTION x its running peak for VAL_LOSS_PERSIST evaluations), the default grokking
warning: the best predictor of generalisation on the evaluation's tuning seeds
(`benchmarks/grokking`), and a signal without a spectrum.

Every event carries a `confidence`: 1.0 for observations (a threshold crossed, a phase entered);
for the rules that may precede generalisation, CONFIDENCE, the evaluation's held-out precision;
None where nothing was measured. Records come in index order (an index at or below `last_index` is
ignored) and per scalar name a step at or below the last one seen is ignored, so replays are
harmless. Every rule fires at most once. States serialise to versioned JSON bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from analyzer.core.grokking import (
    DefectAlarm,
    Evidence,
    GrokkingConfig,
    RelativeDrop,
    SpectralRule,
    Threshold,
    restore_rule,
)
from analyzer.core.phases import PhaseDetector, PhaseEvent
from analyzer.errors import StateError
from analyzer.records import WindowRecord

PLATEAU_FRACTION = 0.85
COLLAPSE = "edge.collapse"
GENERALIZED = "grokking.generalized"
MEMORISED = "memorisation.detected"
VAL_LOSS_DECLINE = "val_loss.decline"
COMMUTATOR_RISE = "commutator.rise"
SPECTRAL_TYPES = {
    "edge_ratio": "edge.decline",
    "g23": "g23.decline",
    "edge_and_g23": "edge_g23.decline",
    "k_star": "k_star.shift",
}
ACCURACY_NAMES = ("test_acc", "val_acc")
LOSS_NAMES = ("test_loss", "val_loss")
TRAIN_ACCURACY = "train_acc"
DEFECT_NAME = "commutator_defect"
MEMORISED_LEVEL = 0.99
VAL_LOSS_FRACTION = 0.659428  # 1 - the tuned threshold 0.340572 on the fall from the peak
VAL_LOSS_PERSIST = 2
OBSERVED = 1.0
MEASURED_SERIES = (10, 1)
"""The (W, stride) the spectral rules' confidences were measured at; elsewhere they carry None."""
CONFIDENCE = {"edge_ratio": 0.8571, "g23": 0.2, "commutator": 0.4167, "val_loss_decline": 0.913}
"""Per detector, (hits + 1) / (alarms + 2) of its tuned setting on the evaluation's report seeds,
all families pooled: how often its alert was followed by generalisation on runs it was not tuned
on (`benchmarks/grokking/results/results.md`, "Live rules")."""
_VERSION = 2


@dataclass(frozen=True)
class DetectorEvent:
    """One event: alert `type`, where it fired, why (`message`, float `evidence`), by which rule,
    and how far the evaluation says to trust it (`confidence`, None where it was not measured)."""

    type: str
    step: int
    index: int
    message: str
    evidence: dict[str, float]
    detector: str
    confidence: float | None


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

    def update(self, edge_ratio: float) -> Evidence | None:
        """Feed the next window's edge ratio; the evidence on the one window that fires."""
        if self.fired:
            return None
        self.peak = max(self.peak, edge_ratio)
        on_plateau = self.peak >= self.plateau_min and edge_ratio >= PLATEAU_FRACTION * self.peak
        self.streak = self.streak + 1 if on_plateau else 0
        self.plateau = self.plateau or self.streak >= self.plateau_windows
        if not (self.plateau and edge_ratio < self.collapse_threshold):
            return None
        self.fired = True
        return {"edge_ratio": edge_ratio, "peak": self.peak, "threshold": self.collapse_threshold}


@dataclass
class SeriesDetectors:
    """`edge.collapse`, the live phases and the spectral grokking early warnings of one series."""

    config: GrokkingConfig = field(default_factory=GrokkingConfig)
    collapse: CollapseDetector = field(default_factory=CollapseDetector)
    phases: PhaseDetector = field(default_factory=PhaseDetector)
    rules: dict[str, SpectralRule] = field(default_factory=dict)
    last_index: int | None = None

    def __post_init__(self) -> None:
        self.rules = {**self.config.rules(), **self.rules}

    @classmethod
    def from_settings(cls, settings: Any) -> SeriesDetectors:
        """A fresh bank configured from `AnalyzerSettings` (see `GrokkingConfig.from_settings`)."""
        s = settings
        collapse = CollapseDetector(s.plateau_min, s.plateau_windows, s.collapse_threshold)
        phases = PhaseDetector(
            tau=s.collapse_threshold, rise_level=s.plateau_min, confirm=s.plateau_windows
        )
        return cls(GrokkingConfig.from_settings(settings), collapse, phases)

    def update(self, record: WindowRecord) -> list[DetectorEvent]:
        """Feed the next window record; the events it fires (none for an old index)."""
        if self.last_index is not None and record.index <= self.last_index:
            return []
        self.last_index = record.index
        events = []
        hit = self.collapse.update(record.edge_ratio)
        if hit is not None:
            text = _collapse_text(hit)
            events.append(_event(record, COLLAPSE, "collapse", hit, text, OBSERVED))
        phases = self.phases.update(record.index, record.step, record.edge_ratio)
        events += [_phase_event(record.window, e) for e in phases]
        k_star = getattr(record.k_star, self.config.k_star_rule)
        values = {"edge_ratio": record.edge_ratio, "g23": record.g23, "k_star": k_star,
                  "edge_and_g23": (record.edge_ratio, record.g23)}  # fmt: skip
        watched = not self.config.windows or record.window in self.config.windows
        measured = (record.window, record.stride) == MEASURED_SERIES
        for name, rule in self.rules.items() if watched else ():
            hit = rule.update(values[name])
            if hit is not None:
                confidence = CONFIDENCE.get(name) if measured else None
                text = _spectral_text(name, hit)
                events.append(_event(record, SPECTRAL_TYPES[name], name, hit, text, confidence))
        return events

    def to_bytes(self) -> bytes:
        """Serialise configuration and state (compact JSON, stable key order)."""
        return _dump({
            "config": asdict(self.config),
            "collapse": asdict(self.collapse),
            "phases": asdict(self.phases),
            "rules": {name: asdict(rule) for name, rule in self.rules.items()},
            "last_index": self.last_index,
        })  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes) -> SeriesDetectors:
        """Restore a bank serialised by `to_bytes`; raises StateError when unreadable."""
        state = _load(data, "series detectors")
        try:
            config = GrokkingConfig.from_dict(state["config"])
            rules = {n: restore_rule(n, r) for n, r in state["rules"].items()}
            collapse, phases = (
                CollapseDetector(**state["collapse"]),
                PhaseDetector(**state["phases"]),
            )
            return cls(config, collapse, phases, rules, state["last_index"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"unreadable series-detector state: {exc}") from None


@dataclass
class ScalarDetectors:
    """`grokking.generalized`, `memorisation.detected`, `val_loss.decline` and
    `commutator.rise` from a run's logged scalars."""

    generalized: Threshold = field(default_factory=Threshold)
    defect: DefectAlarm = field(default_factory=lambda: _defect_alarm(GrokkingConfig()))
    last_step: dict[str, int] = field(default_factory=dict)
    memorised: Threshold = field(default_factory=lambda: Threshold(MEMORISED_LEVEL))
    val_loss: RelativeDrop = field(
        default_factory=lambda: RelativeDrop(VAL_LOSS_FRACTION, 2, 1, VAL_LOSS_PERSIST)
    )

    @classmethod
    def from_settings(cls, settings: Any) -> ScalarDetectors:
        """A fresh bank with the grok threshold and defect alarm of `settings`."""
        config = GrokkingConfig.from_settings(settings)
        return cls(Threshold(config.grok_threshold), _defect_alarm(config))

    def update(self, step: int, values: dict[str, float]) -> list[DetectorEvent]:
        """Feed the scalars logged at `step`; the events they fire."""
        fresh = {n: v for n, v in values.items() if step > self.last_step.get(n, -1)}
        self.last_step.update(dict.fromkeys(fresh, step))
        rules = (
            (GENERALIZED, ACCURACY_NAMES, self.generalized, None, OBSERVED, _generalized_text),
            (MEMORISED, (TRAIN_ACCURACY,), self.memorised, TRAIN_ACCURACY, OBSERVED,
             _memorised_text),
            (COMMUTATOR_RISE, (DEFECT_NAME,), self.defect, "commutator",
             CONFIDENCE["commutator"], _defect_text),
            (VAL_LOSS_DECLINE, LOSS_NAMES, self.val_loss, "val_loss_decline",
             CONFIDENCE["val_loss_decline"], _val_loss_text),
        )  # fmt: skip
        events = []
        for kind, names, rule, detector, confidence, describe in rules:
            for name in names:
                hit = rule.update(fresh[name]) if name in fresh else None
                if hit is not None:
                    text = describe(name, hit, step)
                    events.append(DetectorEvent(kind, step, step, text, hit, detector or name,
                                                confidence))  # fmt: skip
        return events

    def to_bytes(self) -> bytes:
        """Serialise thresholds and state (compact JSON, stable key order)."""
        return _dump(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> ScalarDetectors:
        """Restore a bank serialised by `to_bytes`; raises StateError when unreadable."""
        state = _load(data, "scalar detectors")
        try:
            generalized, defect = Threshold(**state["generalized"]), DefectAlarm(**state["defect"])
            last = {str(k): int(v) for k, v in state["last_step"].items()}
            bank = cls(generalized, defect, last)
            if "memorised" in state:  # states written before these rules start them fresh
                bank.memorised, bank.val_loss = (
                    Threshold(**state["memorised"]),
                    RelativeDrop(**state["val_loss"]),
                )
            return bank
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"unreadable scalar-detector state: {exc}") from None


def _generalized_text(name: str, hit: Evidence, step: int) -> str:
    return f"{name} reached {hit['value']:.3f} (>= {hit['threshold']:g}) at step {step}"


def _memorised_text(name: str, hit: Evidence, step: int) -> str:
    return _generalized_text(name, hit, step) + ": the run has memorised its training set"


def _defect_text(name: str, hit: Evidence, step: int) -> str:
    return (
        f"commutator defect rose to {hit['value']:.3g}, {hit['ratio']:.1f} x its early "
        f"baseline {hit['baseline']:.3g}, at step {step} (may precede generalisation; "
        f"confidence from the evaluation)"
    )


def _val_loss_text(name: str, hit: Evidence, step: int) -> str:
    return (
        f"{name} fell to {hit['value']:.4g}, {hit['ratio']:.2f} x its running peak "
        f"{hit['baseline']:.4g}, at step {step}: the default grokking warning (it preceded "
        f"generalisation on the evaluation's modular runs; a run that learns without grokking "
        f"fires it too)"
    )


def _defect_alarm(config: GrokkingConfig) -> DefectAlarm:
    return DefectAlarm(config.defect_factor, config.defect_floor, persist=config.defect_persist)


def _event(
    record: WindowRecord, kind: str, name: str, hit: Evidence, text: str, confidence: float | None
) -> DetectorEvent:
    where = f" (W={record.window}, stride {record.stride}, step {record.step})"
    return DetectorEvent(kind, record.step, record.index, text + where, hit, name, confidence)


def _collapse_text(hit: Evidence) -> str:
    return (
        f"edge ratio fell to {hit['edge_ratio']:.3f} (< {hit['threshold']:g}) after a plateau "
        f"at peak {hit['peak']:.3f}"
    )


def _spectral_text(name: str, hit: Evidence) -> str:
    if name == "edge_and_g23":
        return (
            f"edge ratio and g23 both declined: edge ratio level {hit['edge_value']:.3g} against "
            f"its peak {hit['edge_baseline']:.3g}, g23 level {hit['g23_value']:.3g} against its "
            f"peak {hit['g23_baseline']:.3g}"
        )
    if name == "k_star":
        return f"k* moved to {hit['value']:g} from its early value {hit['baseline']:g}"
    what = "edge ratio" if name == "edge_ratio" else "g23"
    return (
        f"{what} declined to level {hit['value']:.4g}, {hit['ratio']:.2f} x its running peak "
        f"{hit['baseline']:.4g} (compression after memorisation; it precedes generalisation on "
        f"some runs only)"
    )


def _phase_event(window: int, event: PhaseEvent) -> DetectorEvent:
    text = (
        f"{event.phase} phase of the edge ratio starts: R {event.edge_ratio:.3f}, peak "
        f"{event.peak:.3f} (W={window}, step {event.step})"
    )
    evidence = {"edge_ratio": event.edge_ratio, "peak": event.peak}
    kind = f"phase.{event.phase}"
    return DetectorEvent(kind, event.step, event.index, text, evidence, "phases", OBSERVED)


def _dump(state: dict[str, Any]) -> bytes:
    return json.dumps({"v": _VERSION, **state}, sort_keys=True, separators=(",", ":")).encode()


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        state = json.loads(data)
        if not isinstance(state, dict) or state.pop("v", None) != _VERSION:
            raise ValueError("state version")
    except ValueError as exc:
        raise StateError(f"unreadable {what} state: {exc}") from None
    return state
