"""Window metrics of design section 7, one window at a time or batched over stacked Grams.

Routes (all end in the same vectorised evaluation, `SpectrumBatch`):
- `window_metrics(U)`: sigma from an SVD of the W x d window (numpy's, values only).
- `batch_metrics(grams)`: one stacked eigvalsh over (N, W, W), lambda descending, clipped at 0,
  sigma = sqrt(lambda), every metric vectorised over N. The service's path (RollingGram).
- `metrics_from_gram(G)`: a batch of one. `metrics_from_sigma(sigma)`: from singular values.

Accuracy: eigvalsh of G loses singular values below ~sqrt(W eps) sigma_1 (squaring), so when
the updates are passed, rows whose lambda_W < REFINE * lambda_1 take sigma from an SVD of their
updates, and rows whose update sum nearly cancels take the drift speed from the updates; then every
sigma_k matches numpy's SVD to 1e-9 relative to max(sigma_k, RATIO_FLOOR * sigma_1).
Ratios, k* rules and the noise floor: see `analyzer.core.edge`. lambda_3 counts as 0 when W = 2.
Energy fractions and k95 are 0 for an all-zero window. Drift speed = sqrt(sum_ij G_ij) / W.
Direction stability: see `analyzer.core.direction` (None without a previous window). Flags pass
through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from analyzer.core import direction
from analyzer.core.edge import RATIO_FLOOR, RULES, edge_indices, edge_ratios
from analyzer.core.window_metrics import ENERGY_LEVEL, SpectrumBatch, WindowMetrics
from analyzer.errors import NonFiniteError, SpectrumError

__all__ = [
    "ENERGY_LEVEL",
    "FLAGS",
    "FLAG_GAP",
    "FLAG_INCOMPLETE",
    "RATIO_FLOOR",
    "REFINE",
    "RULES",
    "SpectrumBatch",
    "WindowMetrics",
    "batch_metrics",
    "edge_indices",
    "edge_ratios",
    "metrics_from_gram",
    "metrics_from_sigma",
    "window_metrics",
]

FLAG_GAP = "gap"
FLAG_INCOMPLETE = "incomplete"
FLAGS = (FLAG_GAP, FLAG_INCOMPLETE)
REFINE = 1e-4
_CANCEL = 1e-6


def window_metrics(
    updates: np.ndarray,
    rule: str = "weighted",
    *,
    previous: np.ndarray | None = None,
    flags: Sequence[str] = (),
) -> WindowMetrics:
    """Metrics of the window whose W update sketches are the rows of `updates` (W x d).

    `previous` is the previous window's `direction` (d,), for the direction stability.
    """
    u = _finite(updates, "updates")
    if u.ndim != 2 or u.shape[0] < 2 or u.shape[1] < 1:
        raise SpectrumError(f"updates must be W x d with W >= 2, got shape {u.shape}")
    width = u.shape[0]
    sigma = np.zeros(width)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            singular = np.linalg.svd(u, compute_uv=False)
            drift = float(np.linalg.norm(u.sum(axis=0))) / width
            sigma[: singular.size] = singular
            lam = sigma**2
    except np.linalg.LinAlgError:
        raise NonFiniteError("the SVD of the window did not converge") from None
    top, vector = _direction(u, lam) if np.isfinite(lam.sum()) else (np.full(width, np.nan), None)
    stable = np.nan
    if previous is not None and vector is not None:
        cos = direction.cosine(_finite(previous, "previous"), vector)
        stable = np.nan if cos is None else cos
    stables, drifts = np.array([stable]), np.array([drift])
    batch = SpectrumBatch.from_spectra(
        sigma[None], lam[None], drifts, rule, stables, top[None], [_flags(flags)]
    )
    return replace(batch.row(0), direction=vector)


def _direction(u: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """`top` (W,) and v1 = Uᵀ top (d,) of one window; NaN and None for a zero window."""
    top = direction.tops((u @ u.T)[None], lam[:1])[0]
    if not lam[0] > 0.0:
        return top, None
    vector = u.T @ top
    return top, vector / np.linalg.norm(vector)


def metrics_from_gram(
    gram: np.ndarray,
    rule: str = "weighted",
    *,
    cross: np.ndarray | None = None,
    previous: np.ndarray | None = None,
    flags: Sequence[str] = (),
) -> WindowMetrics:
    """Metrics of a window given its W x W Gram matrix G = U Uᵀ (a batch of one)."""
    g = _finite(gram, "gram")
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] < 2:
        raise SpectrumError(f"gram must be square with W >= 2, got shape {g.shape}")
    both = cross is not None and previous is not None
    return batch_metrics(
        g[None],
        rule,
        cross=np.asarray(cross)[None] if both else None,
        previous=np.asarray(previous)[None] if both else None,
        flags=[flags],
    ).row(0)


def metrics_from_sigma(
    sigma: np.ndarray | list[float],
    drift_speed: float = 0.0,
    rule: str = "weighted",
    *,
    flags: Sequence[str] = (),
) -> WindowMetrics:
    """Metrics from singular values alone (sorted descending here); drift speed is passed in."""
    s = _finite(sigma, "sigma")
    if s.ndim != 1 or s.size < 2 or (s < 0).any():
        raise SpectrumError("sigma must hold at least 2 non-negative values")
    s = np.sort(s)[::-1]
    with np.errstate(over="ignore"):
        lam = s**2
    nothing = np.full((1, s.size), np.nan)
    drift = np.array([float(drift_speed)])
    return SpectrumBatch.from_spectra(
        s[None], lam[None], drift, rule, nothing[:, 0], nothing, [_flags(flags)]
    ).row(0)


def batch_metrics(
    grams: np.ndarray,
    rule: str = "weighted",
    *,
    cross: np.ndarray | None = None,
    previous: np.ndarray | None = None,
    updates: np.ndarray | None = None,
    flags: Sequence[Sequence[str]] | None = None,
) -> SpectrumBatch:
    """All metrics of N windows from their stacked Grams (N, W, W), one eigvalsh for the batch.

    `cross` (N, W, W) = U_prev Uᵀ and `previous` (N, W) = the previous windows' `top` give the
    direction stability (NaN rows of `previous`: none). `updates` (N, W, d) enable the exact
    refinement of the module docstring. `flags`: N sequences of FLAGS, passed through.
    """
    g = np.asarray(grams, dtype=np.float64)
    if g.ndim != 3 or g.shape[1] != g.shape[2] or g.shape[1] < 2:
        raise SpectrumError(f"grams must be N x W x W with W >= 2, got shape {g.shape}")
    if rule not in RULES:
        raise SpectrumError(f"unknown edge rule {rule!r}; choose one of {RULES}")
    n, width = g.shape[:2]
    with np.errstate(over="ignore", invalid="ignore"):
        total = g.sum(axis=(1, 2))
    _check_rows(np.isfinite(total), "grams hold NaN or Inf, or overflow float64")
    lam = np.clip(np.linalg.eigvalsh(g)[:, ::-1], 0.0, None)
    top = direction.tops(g, lam[:, 0])
    drift = np.sqrt(np.maximum(total, 0.0)) / width
    sigma = np.sqrt(lam)
    if updates is not None:
        sigma, lam, drift = _refine(g, sigma, lam, drift, updates)
    stable = np.full(n, np.nan)
    if cross is not None and previous is not None:
        with np.errstate(invalid="ignore"):
            stable = direction.stability(_like(previous, (n, width)), _like(cross, g.shape), top)
    marks = [_flags(f) for f in flags] if flags is not None else [[] for _ in range(n)]
    if len(marks) != n:
        raise SpectrumError(f"flags has {len(marks)} entries for {n} windows")
    return SpectrumBatch.from_spectra(sigma, lam, drift, rule, stable, top, marks)


def _refine(
    g: np.ndarray, sigma: np.ndarray, lam: np.ndarray, drift: np.ndarray, updates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact sigma (SVD) and drift (sum of updates) for the rows the Gram cannot give exactly."""
    u = np.asarray(updates, dtype=np.float64)
    if u.ndim != 3 or u.shape[:2] != g.shape[:2]:
        raise SpectrumError(f"updates must be N x W x d matching grams, got shape {u.shape}")
    steep = np.flatnonzero((lam[:, 0] > 0.0) & (lam[:, -1] < REFINE * lam[:, 0]))
    if steep.size:
        part = _finite(u[steep], "updates")
        values = np.linalg.svd(part, compute_uv=False)
        sigma, lam = sigma.copy(), lam.copy()
        sigma[steep] = 0.0
        sigma[steep, : values.shape[1]] = values
        lam[steep] = sigma[steep] ** 2
    cancel = np.flatnonzero(drift**2 * g.shape[1] ** 2 < _CANCEL * np.abs(g).sum(axis=(1, 2)))
    if cancel.size:
        drift = drift.copy()
        drift[cancel] = np.linalg.norm(u[cancel].sum(axis=1), axis=1) / g.shape[1]
    return sigma, lam, drift


def _like(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape:
        raise SpectrumError(f"expected shape {shape}, got {array.shape}")
    return array


def _check_rows(ok: np.ndarray, message: str) -> None:
    if not ok.all():
        raise NonFiniteError(f"{message} (rows {np.flatnonzero(~ok)[:10].tolist()})")


def _flags(flags: Sequence[str]) -> list[str]:
    unknown = set(flags) - set(FLAGS)
    if unknown or isinstance(flags, str):
        raise SpectrumError(f"unknown flags {sorted(unknown) or flags!r}; choose from {FLAGS}")
    return list(dict.fromkeys(flags))


def _finite(values: np.ndarray | list[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise NonFiniteError(f"{name} holds NaN or Inf")
    return array
