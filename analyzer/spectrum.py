"""Window metrics of design section 7, from a W x d update matrix, its Gram matrix, or its spectrum.

Conventions (all deliberate, all tested):
- sigma_k are the singular values of U (W x d), i.e. sqrt of the eigenvalues lambda_k of
  G = U Uᵀ, descending, W of them (zero-padded when d < W). `window_metrics` takes them from an
  SVD of U, which keeps small singular values accurate; `metrics_from_gram` from eigvalsh(G)
  clipped at 0.
- Ratios: r_k = s_k / s_{k+1}, k = 1..W-1, where s_k = max(sigma_k, RATIO_FLOOR * sigma_1).
  Singular values below a millionth of sigma_1 are rounding noise once squared into G (relative
  error of lambda ~ W * 2e-16), so they count as that floor: ratios stay finite (at most 1e6),
  noise-to-noise ratios are 1, and both routes agree. An all-zero window has every ratio 1.
- k* (1-based) per rule: `argmax` of r_k; `weighted` argmax of (sigma_k / sum sigma) * r_k;
  `floor` argmax of r_k over the k whose s_{k+1} exceeds NOISE_FACTOR times the median of the
  lower half of s (its floor(W/2) smallest values), falling back to `argmax` when no k
  qualifies. Ties go to the smallest k.
- lambda_3 counts as 0 when W = 2. Energy fractions and k95 are 0 for an all-zero window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from analyzer.errors import NonFiniteError, SpectrumError

RATIO_FLOOR = 1e-6
NOISE_FACTOR = 0.5
ENERGY_LEVEL = 0.95
RULES = ("argmax", "weighted", "floor")


@dataclass(frozen=True)
class WindowMetrics:
    """The metric fields of a `records.WindowRecord` (k_star maps rule name to 1-based k)."""

    sigma: list[float]
    ratios: list[float]
    k_star: dict[str, int]
    edge_ratio: float
    gap: float
    g23: float
    energy: list[float]
    k95: int
    drift_speed: float

    def fields(self) -> dict[str, Any]:
        """The fields as a dict, ready for `WindowRecord(**fields, ...)`."""
        return asdict(self)


def window_metrics(updates: np.ndarray, rule: str = "weighted") -> WindowMetrics:
    """Metrics of the window whose W update sketches are the rows of `updates` (W x d)."""
    u = _finite(updates, "updates")
    if u.ndim != 2 or u.shape[0] < 2 or u.shape[1] < 1:
        raise SpectrumError(f"updates must be W x d with W >= 2, got shape {u.shape}")
    sigma = np.zeros(u.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        singular = np.linalg.svd(u, compute_uv=False)
        sigma[: singular.size] = singular
        drift = float(np.linalg.norm(u.sum(axis=0))) / u.shape[0]
        lam = sigma**2
    return _metrics(sigma, lam, drift, rule)


def metrics_from_gram(gram: np.ndarray, rule: str = "weighted") -> WindowMetrics:
    """Metrics of a window given its W x W Gram matrix G = U Uᵀ."""
    g = _finite(gram, "gram")
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] < 2:
        raise SpectrumError(f"gram must be square with W >= 2, got shape {g.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        lam = np.clip(np.linalg.eigvalsh(g)[::-1], 0.0, None)
        drift = float(np.sqrt(max(float(g.sum()), 0.0))) / g.shape[0]
    return _metrics(np.sqrt(lam), lam, drift, rule)


def metrics_from_sigma(
    sigma: np.ndarray | list[float], drift_speed: float = 0.0, rule: str = "weighted"
) -> WindowMetrics:
    """Metrics from singular values alone (sorted descending here); drift speed is passed in."""
    s = _finite(sigma, "sigma")
    if s.ndim != 1 or s.size < 2 or (s < 0).any():
        raise SpectrumError("sigma must hold at least 2 non-negative values")
    s = np.sort(s)[::-1]
    with np.errstate(over="ignore"):
        lam = s**2
    return _metrics(s, lam, drift_speed, rule)


def edge_ratios(sigma: np.ndarray) -> np.ndarray:
    """r_k = s_k / s_{k+1} for k = 1..W-1 with the RATIO_FLOOR convention (descending sigma)."""
    if sigma[0] <= 0.0:
        return np.ones(sigma.size - 1)
    s = np.maximum(sigma, RATIO_FLOOR * sigma[0])
    return s[:-1] / s[1:]


def edge_indices(sigma: np.ndarray, ratios: np.ndarray) -> dict[str, int]:
    """k* (1-based) under each rule of the module docstring."""
    argmax = int(np.argmax(ratios)) + 1
    total = float(sigma.sum())
    weights = sigma[:-1] / total if total > 0.0 else np.zeros(ratios.size)
    weighted = int(np.argmax(weights * ratios)) + 1 if total > 0.0 else argmax
    s = np.maximum(sigma, RATIO_FLOOR * sigma[0])
    noise = NOISE_FACTOR * float(np.median(s[s.size - s.size // 2 :]))
    eligible = s[1:] > noise
    floor = int(np.argmax(np.where(eligible, ratios, -np.inf))) + 1 if eligible.any() else argmax
    return {"argmax": argmax, "weighted": weighted, "floor": floor}


def _metrics(sigma: np.ndarray, lam: np.ndarray, drift: float, rule: str) -> WindowMetrics:
    if rule not in RULES:
        raise SpectrumError(f"unknown edge rule {rule!r}; choose one of {RULES}")
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(lam.sum())
    if not (np.isfinite(total) and np.isfinite(drift) and np.isfinite(sigma).all()):
        raise NonFiniteError("the spectrum overflows float64")
    ratios = edge_ratios(sigma)
    k_star = edge_indices(sigma, ratios)
    k = k_star[rule]
    padded = np.append(lam, 0.0)
    energy = lam / total if total > 0.0 else np.zeros_like(lam)
    k95 = int(np.searchsorted(np.cumsum(lam), ENERGY_LEVEL * total)) + 1 if total > 0.0 else 0
    return WindowMetrics(
        sigma=sigma.tolist(),
        ratios=ratios.tolist(),
        k_star=k_star,
        edge_ratio=float(ratios[k - 1]),
        gap=float(lam[k - 1] - lam[k]),
        g23=float(padded[1] - padded[2]),
        energy=energy.tolist(),
        k95=min(k95, lam.size),
        drift_speed=drift,
    )


def _finite(values: np.ndarray | list[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise NonFiniteError(f"{name} holds NaN or Inf")
    return array
