"""Lag coupling of the edge ratio R with the validation loss, and the lag flip across W.

For one window length W (design section 7): align R with the loss at R's snapshot steps (loss
interpolated linearly, R steps outside the loss's step range dropped), remove a cubic trend in
the step from both, and compute the Pearson r of R(t) with loss(t + lag) for lag = -L..+L
snapshots; positive lag: the spectrum leads. The peak lag is the lag with the most negative r
(ties: the smallest lag). A lag flip is a sign change of the peak lag between the smallest and
the largest window length (reported in the literature: -1 at W = 10, +1 at W = 20).

How sure a peak lag is: a moving-block bootstrap resamples the detrended pairs' time indices in
blocks (which keeps their autocorrelation), recomputes r(lag) on each replicate, and reports the
distribution of the replicates' peak lags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analyzer.errors import NonFiniteError, SpectrumError

_MIN_PAIRS = 3


@dataclass(frozen=True)
class Coupling:
    """Pearson r per lag (NaN where undefined) and the peak lag with its r."""

    lags: np.ndarray
    r: np.ndarray
    peak_lag: int | None
    peak_r: float | None


@dataclass(frozen=True)
class LagFlip:
    """Peak lags at the smallest and largest W and whether their signs differ."""

    small_window: int
    small_lag: int
    large_window: int
    large_lag: int
    flipped: bool


def align(
    r_steps: np.ndarray, r_values: np.ndarray, loss_steps: np.ndarray, loss_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, R, loss) at R's steps inside the loss's step range, loss interpolated linearly."""
    rs, rv = _finite(r_steps), _finite(r_values)
    ls, lv = _finite(loss_steps), _finite(loss_values)
    if rs.shape != rv.shape or ls.shape != lv.shape or rs.ndim != 1 or ls.size < 1:
        raise SpectrumError("steps and values must be 1-D arrays of equal length")
    order = np.argsort(ls, kind="stable")
    ls, lv = ls[order], lv[order]
    inside = (rs >= ls[0]) & (rs <= ls[-1])
    return rs[inside], rv[inside], np.interp(rs[inside], ls, lv)


def cubic_detrend(values: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
    """Residuals of a least-squares cubic in the step (steps default to 0..n-1)."""
    y = _finite(values)
    x = np.arange(y.size, dtype=np.float64) if steps is None else _finite(steps)
    if x.shape != y.shape or y.ndim != 1:
        raise SpectrumError("values and steps must be 1-D arrays of equal length")
    span = x.max() - x.min() if x.size else 0.0
    scaled = (x - x.min()) / span * 2.0 - 1.0 if span > 0.0 else np.zeros_like(x)
    basis = np.vander(scaled, min(4, y.size), increasing=True)
    coef = np.linalg.lstsq(basis, y, rcond=None)[0]
    residual: np.ndarray = y - basis @ coef
    return residual


def lagged_correlation(
    r: np.ndarray, loss: np.ndarray, max_lag: int, min_lag: int | None = None
) -> Coupling:
    """Pearson r of R(t) with loss(t + lag) for lag = min_lag..max_lag (min_lag defaults to
    -max_lag), and the peak lag."""
    x, y = _finite(r), _finite(loss)
    lags = _lags(x, y, max_lag, min_lag)
    corr = np.array([_pearson(*_shifted(x, y, int(lag))) for lag in lags])
    return _peak(lags, corr)


def coupling(
    r: np.ndarray, loss: np.ndarray, max_lag: int, steps: np.ndarray | None = None
) -> Coupling:
    """Cubic-detrend aligned R and loss, then `lagged_correlation`."""
    return lagged_correlation(cubic_detrend(r, steps), cubic_detrend(loss, steps), max_lag)


def bootstrap_peak_lags(
    r: np.ndarray,
    loss: np.ndarray,
    max_lag: int,
    min_lag: int | None = None,
    *,
    replicates: int = 1000,
    block: int = 4,
    seed: int = 0,
) -> np.ndarray:
    """Peak lags of `replicates` moving-block bootstrap replicates of detrended (R, loss) pairs.

    Each replicate draws ceil(n / block) blocks of `block` consecutive time indices (uniform
    start, truncated to n indices); the pairs (R(t), loss(t + lag)) of its indices whose t + lag
    lies in the series give r(lag). A replicate with no defined r gives no lag (left out).
    """
    x, y = _finite(r), _finite(loss)
    lags = _lags(x, y, max_lag, min_lag)
    n = x.size
    if n < _MIN_PAIRS or not 1 <= block <= n or replicates < 1:
        raise SpectrumError(f"need n >= {_MIN_PAIRS}, 1 <= block <= n and replicates >= 1")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(replicates, -(-n // block)))
    indices = (starts[:, :, None] + np.arange(block)).reshape(replicates, -1)[:, :n]
    found = []
    for t in indices:
        corr = np.array([_pearson(x[t[ok]], y[t[ok] + lag])
                         for lag in lags for ok in [(t + lag >= 0) & (t + lag < n)]])  # fmt: skip
        peak = _peak(lags, corr).peak_lag
        if peak is not None:
            found.append(peak)
    return np.asarray(found, dtype=np.int64)


def _lags(x: np.ndarray, y: np.ndarray, max_lag: int, min_lag: int | None) -> np.ndarray:
    low = -max_lag if min_lag is None else min_lag
    if x.shape != y.shape or x.ndim != 1 or low > max_lag:
        raise SpectrumError("R and loss must be 1-D of equal length, min_lag <= max_lag")
    return np.arange(low, max_lag + 1)


def _peak(lags: np.ndarray, corr: np.ndarray) -> Coupling:
    if np.isnan(corr).all():
        return Coupling(lags, corr, None, None)
    best = int(np.nanargmin(corr))
    return Coupling(lags, corr, int(lags[best]), float(corr[best]))


def lag_flip(peak_lags: Mapping[int, int]) -> LagFlip | None:
    """Compare the peak lags of the smallest and largest W; None with fewer than two W."""
    if len(peak_lags) < 2:
        return None
    small, large = min(peak_lags), max(peak_lags)
    a, b = peak_lags[small], peak_lags[large]
    return LagFlip(small, a, large, b, flipped=a * b < 0)


def _shifted(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    if lag >= 0:
        return x[: max(n - lag, 0)], y[lag:]
    return x[-lag:], y[: max(n + lag, 0)]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < _MIN_PAIRS:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    scale = float(np.sqrt((dx @ dx) * (dy @ dy)))
    return float(dx @ dy) / scale if scale > 0.0 else float("nan")


def _finite(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise NonFiniteError("series holds NaN or Inf")
    return array
