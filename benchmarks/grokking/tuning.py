"""Setting grids per detector, the choice made on the tuning seeds alone, and trade-off curves."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from benchmarks.grokking.scoring import SPECTRAL, Candidate, Raw, Tally, tally

FALSE_ALARM_LIMIT = 0.10
"""The most false alarms a chosen setting may raise on any one control type (tuning seeds)."""

_TRACE_GRIDS: dict[str, list[dict[str, float]]] = {
    "edge_decline": [{"warmup": 5, "smooth": s} for s in (5, 10, 20)],
    "g23_decline": [{"warmup": 5, "smooth": s} for s in (5, 10, 20)],
    "edge_rebound": [
        {"warmup": 5, "smooth": s, "depth": d} for s in (5, 10, 20) for d in (0.3, 0.5, 0.7)
    ],
    "commutator": [{"baseline": 3, "floor": f} for f in (10.0, 20.0, 40.0)],
    "val_loss_decline": [{"warmup": 2, "smooth": s} for s in (1, 3, 5)],
    "val_loss_decline_memorised": [{"warmup": 0, "smooth": s} for s in (1, 3, 5)],
    "val_loss_z": [{"trailing": n} for n in (5, 10, 20)],
    "param_norm_decline": [{"warmup": 2, "smooth": s} for s in (1, 3)],
    "memorised": [{}],
}
_PERSIST = {"window": (1, 3, 10), "scalar": (1, 2, 3)}
_QUANTILES = np.linspace(0.02, 0.995, 40)


def series_of(runs: list[Raw]) -> list[str]:
    """The (W, stride) series the runs hold, e.g. `10`, `10/4`."""
    return sorted({s for raw in runs for s in raw["records"]}, key=lambda s: (len(s), s))


def traces(kind: str, runs: list[Raw]) -> list[Candidate]:
    """One candidate per (series, trace setting) of `kind`, threshold and persistence unset."""
    where = series_of(runs) if kind in SPECTRAL else [""]
    return [
        Candidate(kind, series, tuple(sorted(params.items())), np.inf, 1)
        for series in where
        for params in _TRACE_GRIDS[kind]
    ]


def thresholds(candidate: Candidate, runs: list[Raw]) -> list[float]:
    """Thresholds spread over the quantiles of the candidate's statistic on `runs`."""
    if candidate.kind == "memorised":
        return [0.99]
    values = np.concatenate([candidate.trace(raw)[1] for raw in runs])
    values = values[np.isfinite(values)]
    return sorted(set(np.quantile(values, _QUANTILES).round(6).tolist())) if values.size else []


def settings(candidate: Candidate, runs: list[Raw]) -> list[Candidate]:
    """Every (threshold, persistence) of one trace candidate."""
    persists = _PERSIST["window" if candidate.series else "scalar"]
    if candidate.kind == "memorised":
        persists = (1,)
    return [
        replace(candidate, threshold=t, persist=p)
        for t, p in itertools.product(thresholds(candidate, runs), persists)
    ]


def choose(options: list[Candidate], runs: list[Raw]) -> tuple[Candidate, Tally]:
    """The setting with the best `Tally.score` on `runs` (the first of equals)."""
    best: tuple[tuple[bool, float, float, float], Candidate, Tally] | None = None
    for option in options:
        result = tally(option, runs)
        score = result.score(FALSE_ALARM_LIMIT)
        if best is None or score > best[0]:
            best = (score, option, result)
    if best is None:
        raise ValueError("no settings to choose from")
    return best[1], best[2]


def curve(candidate: Candidate, runs: list[Raw]) -> list[dict[str, float]]:
    """False alarms against hits and lead as the threshold sweeps (the candidate's persistence)."""
    points = []
    for threshold in thresholds(candidate, runs):
        row = tally(replace(candidate, threshold=threshold), runs).row()
        worst = max((a / n for a, n in row["false_alarms_by_condition"].values() if n), default=0)
        lead = row["median_lead"] or 0
        points.append({"threshold": threshold, "worst_false_alarm_rate": worst,
                       "hit_rate": row["hit_rate"], "median_lead": lead})  # fmt: skip
    return points


def at_false_alarms(points: list[dict[str, float]], limit: float) -> dict[str, float] | None:
    """The curve's point with the most hits, then lead, within `limit` false alarms per type."""
    within = [p for p in points if p["worst_false_alarm_rate"] <= limit]
    return max(within, key=lambda p: (p["hit_rate"], p["median_lead"]), default=None)
