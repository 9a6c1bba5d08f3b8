"""Granger test: do lags of the edge ratio R help predict the loss beyond its own lags?

Restricted model: loss_t = c + sum_{j=1..p} a_j loss_{t-j} (+ sum_{j=1..p} b_j lr_{t-j} with a
learning-rate control); unrestricted: the same plus sum_{j=1..p} c_j R_{t-j}; ordinary least
squares over t = p..n-1. Nested F-test: F = ((SSR_r - SSR_u) / p) / (SSR_u / (n - p - k_u)),
k_u the unrestricted regressors with the constant, p-value from F(p, n - p - k_u). Without a
control this is statsmodels' `grangercausalitytests` ssr_ftest at lag p.

Order p in 1..max_order: the smallest AIC of the unrestricted model on the common sample
t = max_order..n-1, with AIC = n (log(2 pi SSR / n) + 1) + 2 k (statsmodels' OLS convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from analyzer.errors import NonFiniteError, SpectrumError


@dataclass(frozen=True)
class GrangerResult:
    """The chosen order, its F-test, and the AIC of each candidate order."""

    order: int
    f_stat: float
    p_value: float
    df_num: int
    df_den: int
    aic: dict[int, float]


def granger(
    loss: np.ndarray, r: np.ndarray, *, control: np.ndarray | None = None, max_order: int = 2
) -> GrangerResult:
    """Test whether R Granger-causes the loss, order chosen by AIC (module docstring)."""
    series = [_finite(loss), _finite(r)] + ([] if control is None else [_finite(control)])
    n = series[0].size
    if any(s.shape != (n,) for s in series) or max_order < 1:
        raise SpectrumError("loss, R and control must be 1-D of equal length; max_order >= 1")
    aic = {p: _aic(series, p, max_order) for p in range(1, max_order + 1)}
    order = min(aic, key=lambda p: (aic[p], p))
    f_stat, p_value, df_den = f_test(series, order)
    return GrangerResult(order, f_stat, p_value, order, df_den, aic)


def f_test(series: list[np.ndarray], order: int) -> tuple[float, float, int]:
    """(F, p-value, denominator df) of the nested test at `order` over t = order..n-1."""
    y, restricted, full = _design(series, order, order)
    ssr_r, ssr_u = _ssr(y, restricted), _ssr(y, full)
    df_den = y.size - full.shape[1]
    if df_den < 1:
        raise SpectrumError(f"too few points ({series[0].size}) for order {order}")
    f_stat = (ssr_r - ssr_u) / ssr_u / order * df_den if ssr_u > 0.0 else float("inf")
    return float(f_stat), float(stats.f.sf(f_stat, order, df_den)), df_den


def _aic(series: list[np.ndarray], order: int, start: int) -> float:
    y, _, full = _design(series, order, start)
    if y.size <= full.shape[1]:
        raise SpectrumError(f"too few points ({series[0].size}) for order {order}")
    ssr = max(_ssr(y, full), np.finfo(float).tiny)
    return float(y.size * (np.log(2.0 * np.pi * ssr / y.size) + 1.0) + 2.0 * full.shape[1])


def _design(
    series: list[np.ndarray], order: int, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target and regressors for t = start..n-1: [1, loss lags, control lags] and + R lags."""
    loss, r, *control = series
    n = loss.size

    def lags(x: np.ndarray) -> list[np.ndarray]:
        return [x[start - j : n - j] for j in range(1, order + 1)]

    own = [np.ones(n - start), *lags(loss)] + [c for x in control for c in lags(x)]
    restricted = np.column_stack(own)
    return loss[start:], restricted, np.column_stack([*own, *lags(r)])


def _ssr(y: np.ndarray, x: np.ndarray) -> float:
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return float(residual @ residual)


def _finite(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise NonFiniteError("series holds NaN or Inf")
    return array
