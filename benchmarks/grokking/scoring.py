"""Detector statistics over recorded runs, their alarms, and the table rows they make (pure).

A recorded run (`raw`, as `collect.py` saves it) holds the window records the analyzer wrote per
(W, stride), the logged evaluations (accuracies, test loss, parameter norm) and commutator
defects. Every detector is a *trace*, one statistic per window or per evaluation, replayed with the
analyzer's own rule classes; it fires at the first point where the statistic stayed at or above its
threshold for `persist` points in a row. A hit is an alarm strictly before the grok step (first
test accuracy >= 0.90) of a run that grokked; lead = grok step - alarm step, and the gap is the grok
step minus the memorisation step (first training accuracy >= 0.99). A false alarm is any alarm on a
control that did not generalise; controls that did are counted apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from benchmarks.grokking import combined
from benchmarks.grokking.signals import (
    Raw,
    Trace,
    defect_ratio,
    drop_levels,
    grok_of,
    memorised_of,
    rebound,
    zscore_fall,
)


def _records(raw: Raw, series: str, name: str) -> tuple[np.ndarray, list[float]]:
    rows = raw["records"].get(series, [])
    return np.array([r["step"] for r in rows], dtype=int), [float(r[name]) for r in rows]


def _scalars(raw: Raw, name: str) -> tuple[np.ndarray, list[float]]:
    rows = raw["evaluations"]
    return np.array([r["step"] for r in rows], dtype=int), [float(r[name]) for r in rows]


TraceFn = Callable[[Raw, str, dict[str, float]], Trace]


def _edge_decline(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _records(raw, series, "edge_ratio")
    return steps, drop_levels(values, int(p["warmup"]), int(p["smooth"]))


def _g23_decline(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _records(raw, series, "g23")
    return steps, drop_levels(values, int(p["warmup"]), int(p["smooth"]))


def _edge_rebound(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _records(raw, series, "edge_ratio")
    return steps, rebound(values, int(p["warmup"]), int(p["smooth"]), p["depth"])


def _val_loss_decline(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _scalars(raw, "test_loss")
    return steps, drop_levels(values, int(p["warmup"]), int(p["smooth"]))


def _val_loss_decline_memorised(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _scalars(raw, "test_loss")
    memorised = memorised_of(raw)
    stat = np.full(steps.size, np.nan)
    if memorised is not None:  # the running peak is tracked from memorisation on
        keep = steps >= memorised
        stat[keep] = drop_levels(np.asarray(values)[keep].tolist(), int(p["warmup"]),
                                 int(p["smooth"]))  # fmt: skip
    return steps, stat


def _val_loss_z(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _scalars(raw, "test_loss")
    return steps, zscore_fall(values, int(p["trailing"]))


def _param_norm_decline(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _scalars(raw, "param_norm")
    return steps, drop_levels(values, int(p["warmup"]), int(p["smooth"]))


def _memorised(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps, values = _scalars(raw, "train_acc")
    return steps, np.array(values)


def _commutator(raw: Raw, series: str, p: dict[str, float]) -> Trace:
    steps = np.array([int(s) for s, _ in raw["defects"]], dtype=int)
    values = [float(d) for _, d in raw["defects"]]
    return steps, defect_ratio(values, int(p["baseline"]), p["floor"])


TRACES: dict[str, TraceFn] = {
    "edge_decline": _edge_decline,
    "g23_decline": _g23_decline,
    "edge_rebound": _edge_rebound,
    "commutator": _commutator,
    "val_loss_decline": _val_loss_decline,
    "val_loss_decline_memorised": _val_loss_decline_memorised,
    "val_loss_z": _val_loss_z,
    "param_norm_decline": _param_norm_decline,
    "memorised": _memorised,
    "combined": combined.probability,
}
SPECTRAL = ("edge_decline", "g23_decline", "edge_rebound")
BASELINES = ("val_loss_decline", "val_loss_decline_memorised", "val_loss_z", "param_norm_decline")
"""Signals a user could set up in any tracker from logged values, without a spectrum."""

_CACHE: dict[tuple[str, str, tuple[tuple[str, float], ...], int], tuple[Raw, Trace]] = {}
"""Traces by setting and run object (kept with the run, so an id is never reused)."""


@dataclass(frozen=True)
class Candidate:
    """A trace (`kind` on `series`, "" for logged scalars) with a threshold and persistence."""

    kind: str
    series: str
    params: tuple[tuple[str, float], ...]
    threshold: float
    persist: int

    @property
    def label(self) -> str:
        """Detector label of the tables, e.g. `edge_decline@W10/s4`."""
        if not self.series:
            return self.kind
        window, _, stride = self.series.partition("/")
        return f"{self.kind}@W{window}/s{stride or 1}"

    @property
    def settings(self) -> dict[str, float]:
        """Every setting, the threshold and persistence included."""
        return {**dict(self.params), "threshold": self.threshold, "persist": self.persist}

    def trace(self, raw: Raw) -> Trace:
        """The statistic over the run (computed once per run and trace setting)."""
        key = (self.kind, self.series, self.params, id(raw))
        if key not in _CACHE:
            _CACHE[key] = (raw, TRACES[self.kind](raw, self.series, dict(self.params)))
        return _CACHE[key][1]

    def sustained(self, raw: Raw) -> Trace:
        """Per point, the least statistic of the last `persist` points (NaN counts as -inf)."""
        steps, stat = self.trace(raw)
        filled = np.where(np.isnan(stat), -np.inf, stat)
        if self.persist > 1 and filled.size >= self.persist:
            view = np.lib.stride_tricks.sliding_window_view(filled, self.persist).min(axis=1)
            filled = np.concatenate([np.full(self.persist - 1, -np.inf), view])
        elif self.persist > 1:
            filled = np.full(filled.size, -np.inf)
        return steps, filled

    def alarm(self, raw: Raw) -> int | None:
        """The step at which this detector first fires on `raw`, or None."""
        steps, held = self.sustained(raw)
        above = np.flatnonzero(held >= self.threshold)
        return int(steps[above[0]]) if above.size else None

    def score(self, raw: Raw) -> float:
        """The run's score: the highest sustained statistic before its grok step (or at all)."""
        steps, held = self.sustained(raw)
        grok, _ = grok_of(raw)
        if grok is not None:
            held = held[steps < grok]
        return float(held.max()) if held.size else -np.inf


def auroc(positives: list[float], negatives: list[float]) -> float | None:
    """P(score of a grokking run > score of a control), ties counted half; None without both."""
    if not positives or not negatives:
        return None
    pos, neg = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


@dataclass
class Tally:
    """Outcomes of one detector over a set of runs."""

    grokked: int = 0
    hits: int = 0
    leads: list[int] = field(default_factory=list)
    fractions: list[float] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    not_grokked: int = 0
    controls_generalized: int = 0
    by_condition: dict[str, list[int]] = field(default_factory=dict)
    positives: list[float] = field(default_factory=list)
    negatives: list[float] = field(default_factory=list)

    def add(self, raw: Raw, alarm: int | None, score: float) -> None:
        """Count one run."""
        grok, _ = grok_of(raw)
        condition = raw["spec"]["condition"]
        if condition != "grok":
            if grok is not None:
                self.controls_generalized += 1
                return
            counts = self.by_condition.setdefault(condition, [0, 0])
            counts[0] += alarm is not None
            counts[1] += 1
            self.negatives.append(score)
        elif grok is None:
            self.not_grokked += 1
        else:
            self.grokked += 1
            self.positives.append(score)
            memorised = memorised_of(raw)
            gap = grok - memorised if memorised is not None and memorised < grok else None
            if gap is not None:
                self.gaps.append(gap)
            if alarm is not None and alarm < grok:
                self.hits += 1
                self.leads.append(grok - alarm)
                if gap is not None:
                    self.fractions.append((grok - alarm) / gap)

    @property
    def hit_rate(self) -> float:
        """Hits over grokking runs (0 when none grokked)."""
        return self.hits / self.grokked if self.grokked else 0.0

    @property
    def controls(self) -> int:
        """Controls that did not generalise."""
        return sum(n for _, n in self.by_condition.values())

    @property
    def false_alarms(self) -> int:
        """Alarms on controls that did not generalise."""
        return sum(a for a, _ in self.by_condition.values())

    @property
    def worst_false_alarm_rate(self) -> float:
        """The highest false-alarm rate over control types (0 without controls)."""
        return max((a / n for a, n in self.by_condition.values() if n), default=0.0)

    @property
    def median_lead(self) -> float:
        """Median lead of the hits (0 without hits)."""
        return float(statistics.median(self.leads)) if self.leads else 0.0

    def score(self, limit: float) -> tuple[bool, float, float, float]:
        """Tuning objective: within `limit` false alarms per control type, then hit rate and
        median lead; outside it, fewer false alarms first."""
        within = self.worst_false_alarm_rate <= limit
        first = self.hit_rate if within else -self.worst_false_alarm_rate
        return (within, first, self.median_lead, -self.worst_false_alarm_rate)

    def row(self) -> dict[str, Any]:
        """The table row's numbers."""
        fractions = self.fractions
        return {
            "grokking_runs": self.grokked,
            "hits": self.hits,
            "hit_rate": self.hit_rate,
            "median_lead": statistics.median(self.leads) if self.leads else None,
            "min_lead": min(self.leads) if self.leads else None,
            "median_lead_fraction": statistics.median(fractions) if fractions else None,
            "median_gap": statistics.median(self.gaps) if self.gaps else None,
            "control_runs": self.controls,
            "false_alarms": self.false_alarms,
            "false_alarm_rate": self.false_alarms / self.controls if self.controls else 0.0,
            "false_alarms_by_condition": {k: tuple(v) for k, v in self.by_condition.items()},
            "auroc": auroc(self.positives, self.negatives),
            "did_not_grok": self.not_grokked,
            "controls_generalized": self.controls_generalized,
        }


class Detector(Protocol):
    """What the tally needs of a detector: its alarm and its run score."""

    def alarm(self, raw: Raw) -> int | None: ...

    def score(self, raw: Raw) -> float: ...


def tally(detector: Detector, runs: list[Raw]) -> Tally:
    """The detector's outcomes over `runs`."""
    result = Tally()
    for raw in runs:
        result.add(raw, detector.alarm(raw), detector.score(raw))
    return result
