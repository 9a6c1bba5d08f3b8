"""Direction stability: |cos| between consecutive windows' top right singular vectors.

The top right singular vector of a window U (W x d) in sketch space is v1 = Uᵀ a1 / sigma1, with
a1 the top eigenvector of G = U Uᵀ. Keeping `top` = a1 / sigma1 (W numbers) per window is enough:
v1 = Uᵀ top, and for the previous window U' (its rows shifted by one update)
    cos(v1', v1) = top'ᵀ (U' Uᵀ) top,
where the cross Gram C = U' Uᵀ is part of the (W+1) x (W+1) Gram a `RollingGram` keeps. So the
stability costs O(W^2) per window and never touches d-dimensional vectors.

a1 comes from one step of inverse iteration on G / lambda_1, shifted by 1 + 1e-13 (lambda_1 is
known from eigvalsh), started from G r for a fixed random r: the error angle is about
1e-13 / (relative gap lambda_1 - lambda_2), so it agrees with `eigh` to rounding whenever a1 is
well defined, at a fraction of its cost. Signs are arbitrary; stability takes |cos|.
"""

from __future__ import annotations

import numpy as np

_SHIFT = 1e-13


def top_vectors(grams: np.ndarray, lam1: np.ndarray) -> np.ndarray:
    """Unit top eigenvectors a1 (N, W) of the Grams (N, W, W) given lambda_1 (N,); NaN if 0."""
    n, width = grams.shape[:2]
    live = lam1 > 0.0
    scaled = grams / np.where(live, lam1, 1.0)[:, None, None]
    start = np.random.default_rng(width).normal(size=width)
    vec: np.ndarray = scaled @ start
    shifted = scaled.reshape(n, width * width)
    shifted[:, :: width + 1] -= 1.0 + _SHIFT
    if not live.all():
        scaled[~live] = np.eye(width)
        vec[~live] = start
    try:
        vec = np.linalg.solve(scaled, vec[..., None])[..., 0]
    except np.linalg.LinAlgError:
        vec = np.linalg.eigh(grams / np.where(live, lam1, 1.0)[:, None, None])[1][..., -1]
    vec = vec / np.abs(vec).max(axis=1, keepdims=True)
    vec = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    top: np.ndarray = np.where(live[:, None], vec, np.nan)
    return top


def tops(grams: np.ndarray, lam1: np.ndarray) -> np.ndarray:
    """top = a1 / sigma1 (N, W) for each Gram: v1 = Uᵀ top in sketch space; NaN rows if zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        top: np.ndarray = top_vectors(grams, lam1) / np.sqrt(lam1)[:, None]
    return top


def stability(previous: np.ndarray, cross: np.ndarray, top: np.ndarray) -> np.ndarray:
    """|cos(v1_prev, v1)| = |top_prevᵀ C top| (N,) with C = U_prev Uᵀ (N, W, W).

    NaN where either window has no direction (a zero window or a missing previous). Per-row
    products only, so a row's value never depends on the batch around it.
    """
    row = np.matmul(cross, top[..., None])[..., 0]
    cos: np.ndarray = np.minimum(np.abs(np.sum(previous * row, axis=1)), 1.0)
    return cos


def cosine(previous: np.ndarray, current: np.ndarray) -> float | None:
    """|cos| between two sketch-space directions (d,); None when either is zero or missing."""
    norms = float(np.linalg.norm(previous)) * float(np.linalg.norm(current))
    if not np.isfinite(norms) or norms == 0.0:
        return None
    return min(abs(float(previous @ current)) / norms, 1.0)
