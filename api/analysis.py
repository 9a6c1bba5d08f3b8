"""Phases and lag coupling of stored series, computed by the analyzer's pure spectral core.

Phases: `analyzer.core.phases.reference_phases` (the retrospective rule) over a series' edge
ratios, mapped from window positions to steps; or, with `source=events`, the phase events the
live detector raised. Coupling: for each W, `analyzer.core.coupling` (cubic-detrended lagged
correlation of R with a logged loss) and `analyzer.core.granger` (does R help predict the loss),
then the lag flip across W.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.core.coupling import align, coupling, lag_flip
from analyzer.core.granger import granger
from analyzer.core.phases import reference_phases
from analyzer.errors import SpectrumError
from analyzer.records import Alert, WindowRecord
from api.schemas import CouplingWindow, LagFlipView, Phase


def reference(records: list[WindowRecord]) -> list[Phase]:
    """Rise, plateau and collapse of a series by the retrospective rule, as step intervals."""
    if not records:
        return []
    steps = [r.step for r in records]
    found = reference_phases([r.edge_ratio for r in records])
    phases = []
    if found.rise is not None and found.plateau is not None:
        phases.append(
            Phase(kind="rise", start_step=steps[found.rise], end_step=steps[found.plateau[0]])
        )
    if found.plateau is not None:
        start, end = found.plateau
        phases.append(Phase(kind="plateau", start_step=steps[start], end_step=steps[end]))
    if found.collapse is not None:
        phases.append(Phase(kind="collapse", start_step=steps[found.collapse], end_step=steps[-1]))
    return phases


def from_events(events: list[Alert], last_step: int | None) -> list[Phase]:
    """Phases from `phase.*` events in step order: each lasts until the next one begins."""
    ordered = sorted((e for e in events if e.type.startswith("phase.")), key=lambda e: e.step)
    phases = []
    for i, event in enumerate(ordered):
        end = ordered[i + 1].step if i + 1 < len(ordered) else last_step
        phases.append(
            Phase(kind=event.type.removeprefix("phase."), start_step=event.step, end_step=end)
        )
    return phases


def couple(
    records: list[WindowRecord], loss: list[tuple[int, float]], max_lag: int, max_order: int
) -> CouplingWindow:
    """Lagged correlation and Granger test of one series' R against the loss at R's steps."""
    window = records[0].window if records else 0
    r_steps = np.array([r.step for r in records], dtype=np.float64)
    r_values = np.array([r.edge_ratio for r in records], dtype=np.float64)
    loss_steps = np.array([s for s, _ in loss], dtype=np.float64)
    loss_values = np.array([v for _, v in loss], dtype=np.float64)
    try:
        steps, r, aligned = align(r_steps, r_values, loss_steps, loss_values)
        if steps.size < 2 * max_lag + 4:
            raise SpectrumError(f"{steps.size} aligned points are too few for max_lag={max_lag}")
        result = coupling(r, aligned, max_lag, steps)
        test = granger(aligned, r, max_order=max_order)
    except SpectrumError as exc:
        return CouplingWindow(window=window, points=len(records), error=str(exc))
    return CouplingWindow(
        window=window,
        points=int(steps.size),
        lags=[int(lag) for lag in result.lags],
        correlation=[None if math.isnan(c) else float(c) for c in result.r],
        peak_lag=result.peak_lag,
        peak_r=result.peak_r,
        granger_order=test.order,
        granger_f=test.f_stat if math.isfinite(test.f_stat) else None,
        granger_p=test.p_value,
    )


def flip(windows: list[CouplingWindow]) -> LagFlipView | None:
    """The lag flip between the smallest and largest W that have a peak lag."""
    peaks = {w.window: w.peak_lag for w in windows if w.peak_lag is not None}
    found = lag_flip(peaks)
    return None if found is None else LagFlipView.model_validate(found, from_attributes=True)
