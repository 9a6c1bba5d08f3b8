"""The statistics detectors threshold, and a run's outcomes (pure, one recorded run at a time).

Each statistic is computed the way the analyzer's rule would see it: `drop_levels` replays
`analyzer.core.grokking.RelativeDrop`, so a fall to `fraction` x the running peak is a statistic
of at least 1 - fraction.
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from analyzer.core.grokking import RelativeDrop
from training.loop import Evaluation, confirmed_step, grok_step, memorised_step

Raw = dict[str, Any]
Trace = tuple[np.ndarray, np.ndarray]  # (steps, statistic), NaN where it is undefined


def evaluations(raw: Raw) -> list[Evaluation]:
    """The run's logged evaluations."""
    return [Evaluation(**e) for e in raw["evaluations"]]


def grok_of(raw: Raw) -> tuple[int | None, int | None]:
    """(first test accuracy >= 0.90, first of 3 evaluations >= 0.98) steps of a run."""
    evals = evaluations(raw)
    return grok_step(evals), confirmed_step(evals)


def memorised_of(raw: Raw) -> int | None:
    """The run's memorisation step (first training accuracy >= 0.99), or None."""
    return memorised_step(evaluations(raw))


def drop_levels(values: list[float], warmup: int, smooth: int) -> np.ndarray:
    """1 - level / running peak after each value, as `RelativeDrop` tracks them (NaN before)."""
    rule = RelativeDrop(fraction=-1.0, warmup=warmup, smooth=smooth, persist=1)
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        rule.update(value)
        if len(rule.recent) == smooth and rule.seen > warmup and rule.peak > 0.0:
            out[i] = 1.0 - rule.level / rule.peak
    return out


def rebound(values: list[float], warmup: int, smooth: int, depth: float) -> np.ndarray:
    """Rise of the level above its lowest point since it first fell to (1 - depth) x its peak."""
    drop = drop_levels(values, warmup, smooth)
    rule = RelativeDrop(fraction=-1.0, warmup=warmup, smooth=smooth, persist=1)
    out, trough = np.full(len(values), np.nan), None
    for i, value in enumerate(values):
        rule.update(value)
        if trough is None and not np.isnan(drop[i]) and drop[i] >= depth:
            trough = rule.level
        if trough is not None:
            trough = min(trough, rule.level)
            out[i] = rule.level / trough - 1.0 if trough > 0 else np.nan
    return out


def zscore_fall(values: list[float], trailing: int) -> np.ndarray:
    """How many trailing standard deviations each value lies below the mean of the previous ones."""
    x, out = np.asarray(values, dtype=float), np.full(len(values), np.nan)
    for i in range(trailing, len(x)):
        past = x[i - trailing : i]
        spread = past.std()
        if spread > 0:
            out[i] = (past.mean() - x[i]) / spread
    return out


def defect_ratio(defects: list[float], baseline: int, floor: float) -> np.ndarray:
    """D over the median of the first `baseline` defects, where D > `floor` (else 0)."""
    out = np.full(len(defects), np.nan)
    if len(defects) > baseline:
        reference = max(statistics.median(defects[:baseline]), 1e-300)
        d = np.asarray(defects[baseline:], dtype=float)
        out[baseline:] = np.where(d > floor, d / reference, 0.0)
    return out


def after_memorisation(raw: Raw, steps: np.ndarray, statistic: np.ndarray) -> np.ndarray:
    """`statistic` with every point before the run's memorisation step undefined (NaN)."""
    memorised = memorised_of(raw)
    if memorised is None:
        return np.full(statistic.shape, np.nan)
    return np.where(steps >= memorised, statistic, np.nan)
