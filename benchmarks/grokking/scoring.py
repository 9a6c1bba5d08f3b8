"""Alarm steps of each detector on a recorded run, and the table rows they make (pure).

A recorded run (`raw`, as `collect.py` saves it) holds the window records the analyzer wrote to
Redis per W, the logged commutator defects and the evaluations. A detector candidate replays the
same rule classes the analyzer runs (`analyzer.core.grokking`, `analyzer.core.detectors`) over them.
Lead = grok step (first test accuracy >= 0.90) - alarm step; a hit is an alarm strictly before
the grok step on a grokking run; a false alarm is any alarm on a control run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from analyzer.core.detectors import EARLY_WARNING, CollapseDetector
from analyzer.core.grokking import DefectAlarm, GrokkingConfig, KStarShift, RelativeDrop
from training.loop import Evaluation, confirmed_step, grok_step

Raw = dict[str, Any]


@dataclass(frozen=True)
class Candidate:
    """A detector (`kind` at window `window`, 0 for scalars) with one parameter setting."""

    kind: str
    window: int
    params: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        """Detector label of the table, e.g. `edge_ratio@W10`."""
        return self.kind if self.window == 0 else f"{self.kind}@W{self.window}"

    def alarm(self, raw: Raw) -> int | None:
        """The step at which this detector first fires on `raw`, or None."""
        params = dict(self.params)
        if self.kind == "commutator":
            rule = DefectAlarm(**params)
            return next((int(s) for s, d in raw["defects"] if rule.update(d)), None)
        records = raw["records"][str(self.window)]
        if self.kind == "collapse":
            collapse = CollapseDetector(**params)
            return next((r["step"] for r in records if collapse.update(r["edge_ratio"])), None)
        if self.kind == "k_star":
            shift = KStarShift(**params)
            return next((r["step"] for r in records if shift.update(r["k_star"])), None)
        drop = RelativeDrop(**params)
        return next((r["step"] for r in records if drop.update(r[self.kind])), None)


def grok_of(raw: Raw) -> tuple[int | None, int | None]:
    """(first test accuracy >= 0.90, first of 3 evaluations >= 0.98) steps of a run."""
    evaluations = [Evaluation(**e) for e in raw["evaluations"]]
    return grok_step(evaluations), confirmed_step(evaluations)


@dataclass
class Tally:
    """Outcomes of one detector over a set of runs."""

    grokked: int = 0
    hits: int = 0
    leads: list[int] = field(default_factory=list)
    controls: int = 0
    false_alarms: int = 0
    not_grokked: int = 0
    controls_generalized: int = 0
    by_condition: dict[str, list[int]] = field(default_factory=dict)

    def add(self, raw: Raw, alarm: int | None) -> None:
        """Count one run."""
        grok, _ = grok_of(raw)
        condition = raw["spec"]["condition"]
        if condition != "wd1":
            self.controls += 1
            self.controls_generalized += grok is not None
            self.false_alarms += alarm is not None
            counts = self.by_condition.setdefault(condition, [0, 0])
            counts[0] += alarm is not None
            counts[1] += 1
        elif grok is None:
            self.not_grokked += 1
        else:
            self.grokked += 1
            if alarm is not None and alarm < grok:
                self.hits += 1
                self.leads.append(grok - alarm)

    @property
    def hit_rate(self) -> float:
        """Hits over grokking runs (0 when none grokked)."""
        return self.hits / self.grokked if self.grokked else 0.0

    @property
    def false_alarm_rate(self) -> float:
        """Alarms over control runs (0 when there are none)."""
        return self.false_alarms / self.controls if self.controls else 0.0

    def score(self) -> tuple[float, float]:
        """Tuning objective: hit rate minus false-alarm rate, then median lead."""
        lead = statistics.median(self.leads) if self.leads else 0.0
        return (self.hit_rate - self.false_alarm_rate, lead)

    def row(self) -> dict[str, Any]:
        """The table row's numbers."""
        leads = self.leads
        return {
            "grokking_runs": self.grokked,
            "hits": self.hits,
            "hit_rate": self.hit_rate,
            "median_lead": statistics.median(leads) if leads else None,
            "min_lead": min(leads) if leads else None,
            "max_lead": max(leads) if leads else None,
            "control_runs": self.controls,
            "false_alarms": self.false_alarms,
            "false_alarm_rate": self.false_alarm_rate,
            "false_alarms_by_condition": {k: tuple(v) for k, v in self.by_condition.items()},
            "did_not_grok": self.not_grokked,
            "controls_generalized": self.controls_generalized,
        }


@dataclass(frozen=True)
class Earliest:
    """Several candidates as one detector: the earliest of their alarms (what a user sees first)."""

    label: str
    parts: tuple[Candidate, ...]

    @property
    def params(self) -> tuple[tuple[str, float], ...]:
        """The parts' settings (those of the first part; the parts share them)."""
        return self.parts[0].params

    def alarm(self, raw: Raw) -> int | None:
        """The earliest alarm step of the parts on `raw`, or None."""
        steps = [step for part in self.parts if (step := part.alarm(raw)) is not None]
        return min(steps, default=None)


@dataclass(frozen=True)
class Both:
    """Two candidates as one detector: alarms once both have (the `edge_and_g23` rule)."""

    label: str
    parts: tuple[Candidate, Candidate]

    @property
    def params(self) -> tuple[tuple[str, float], ...]:
        """The parts' settings, prefixed by their kind."""
        return tuple((f"{p.kind}.{k}", v) for p in self.parts for k, v in p.params)

    def alarm(self, raw: Raw) -> int | None:
        """The later alarm step of the two parts on `raw`, or None unless both fire."""
        steps = [part.alarm(raw) for part in self.parts]
        return None if None in steps else max(s for s in steps if s is not None)


def analyzer_candidates(config: GrokkingConfig, windows: list[int]) -> list[Detector]:
    """The early-warning rules an analyzer with `config` runs, as candidates."""
    c = config
    params = {
        "edge_ratio": (("fraction", c.edge_fraction), ("persist", c.edge_persist),
                       ("smooth", c.edge_smooth), ("warmup", c.warmup)),
        "g23": (("fraction", c.g23_fraction), ("persist", c.g23_persist),
                ("smooth", c.g23_smooth), ("warmup", c.warmup)),
        "k_star": (("baseline", config.k_star_baseline), ("persist", config.k_star_persist),
                   ("warmup", config.warmup)),
    }  # fmt: skip
    windows = [w for w in windows if not config.windows or w in config.windows]
    spectral: list[Detector] = []
    for name in config.detectors:
        for w in windows:
            if name == "edge_and_g23":
                both = (Candidate("edge_ratio", w, params["edge_ratio"]),
                        Candidate("g23", w, params["g23"]))  # fmt: skip
                spectral.append(Both(f"edge_and_g23@W{w}", both))
            else:
                spectral.append(Candidate(name, w, params[name]))
    defect = (("factor", config.defect_factor), ("floor", config.defect_floor))
    return [*spectral, Candidate("commutator", 0, defect)]


def _window(detector: Detector) -> int:
    return detector.parts[0].window if isinstance(detector, Both | Earliest) else detector.window


def pipeline_agrees(raw: Raw) -> bool:
    """Whether replaying the analyzer's rules gives exactly the early warnings it emitted."""
    stored = raw["analyzer_config"]
    config = GrokkingConfig(**{**stored, "detectors": tuple(stored["detectors"]),
                               "windows": tuple(stored.get("windows", ()))})  # fmt: skip
    candidates = analyzer_candidates(config, [int(w) for w in raw["records"]])
    emitted = {(a["window"], a["step"]) for a in raw["alerts"] if a["type"] == EARLY_WARNING}
    replayed = {(_window(c), step) for c in candidates if (step := c.alarm(raw)) is not None}
    return emitted == replayed


Detector = Candidate | Earliest | Both


def tally(candidate: Detector, runs: list[Raw]) -> Tally:
    """The candidate's outcomes over `runs`."""
    result = Tally()
    for raw in runs:
        result.add(raw, candidate.alarm(raw))
    return result
