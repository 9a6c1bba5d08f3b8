"""Consecutive singular-value ratios and the edge index k*, vectorised over leading axes.

Conventions (design section 7):
- Ratios r_k = s_k / s_{k+1}, k = 1..W-1, where s_k = max(sigma_k, RATIO_FLOOR * sigma_1).
  Singular values below a millionth of sigma_1 are rounding noise once squared into a Gram
  matrix, so they count as that floor: ratios stay finite (at most 1e6) and noise-to-noise
  ratios are 1. An all-zero window has every ratio 1.
- k* (1-based) per rule: `argmax` of r_k; `weighted` argmax of (sigma_k / sum sigma) * r_k;
  `floor` argmax of r_k over the k whose s_{k+1} exceeds the noise floor, falling back to
  `argmax` when no k qualifies. Ties go to the smallest k.
- Noise floor: NOISE_FACTOR times the median of the lower half of s (its floor(W/2) smallest
  values). The lower half of a window's spectrum is dominated by the bulk of small, noise-like
  directions, and its median ignores one tiny trailing value, which is what fools `argmax`.
"""

from __future__ import annotations

import numpy as np

RATIO_FLOOR = 1e-6
NOISE_FACTOR = 0.5
RULES = ("argmax", "weighted", "floor")


def floored(sigma: np.ndarray) -> np.ndarray:
    """s_k = max(sigma_k, RATIO_FLOOR * sigma_1) for descending sigma (..., W)."""
    s: np.ndarray = np.maximum(sigma, RATIO_FLOOR * sigma[..., :1])
    return s


def edge_ratios(sigma: np.ndarray) -> np.ndarray:
    """r_k = s_k / s_{k+1} (..., W-1) for descending sigma (..., W); 1 where sigma_1 is 0."""
    s = floored(np.asarray(sigma, dtype=np.float64))
    zero = s[..., :1] <= 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = s[..., :-1] / s[..., 1:]
    r: np.ndarray = np.where(zero, 1.0, ratios)
    return r


def noise_floor(sigma: np.ndarray) -> np.ndarray:
    """NOISE_FACTOR * median of the floor(W/2) smallest s_k, per window (...,)."""
    s = floored(sigma)
    width = s.shape[-1]
    half = width // 2
    low, high = width - half + (half - 1) // 2, width - half + half // 2
    floor: np.ndarray = NOISE_FACTOR * 0.5 * (s[..., low] + s[..., high])
    return floor


def edge_indices(sigma: np.ndarray, ratios: np.ndarray) -> dict[str, np.ndarray]:
    """k* (1-based, integer arrays of the leading shape) under each rule of the module docstring."""
    sigma = np.asarray(sigma, dtype=np.float64)
    argmax = np.argmax(ratios, axis=-1) + 1
    total = sigma.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(total > 0.0, sigma[..., :-1] / total, 0.0)
    weighted = np.where(total[..., 0] > 0.0, np.argmax(weights * ratios, axis=-1) + 1, argmax)
    eligible = floored(sigma)[..., 1:] > noise_floor(sigma)[..., None]
    masked = np.where(eligible, ratios, -np.inf)
    floor = np.where(eligible.any(axis=-1), np.argmax(masked, axis=-1) + 1, argmax)
    return {"argmax": argmax, "weighted": weighted, "floor": floor}


def pick(values: np.ndarray, k: np.ndarray) -> np.ndarray:
    """values[..., k - 1] for 1-based indices k of the leading shape."""
    return np.take_along_axis(values, (k - 1)[..., None], axis=-1)[..., 0]
