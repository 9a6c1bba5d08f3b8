"""JL fidelity: how well sketched windows reproduce the exact windows' spectra (design section 7).

Given the exact update windows (N, W, P) of a small model and their sketches (N, W, d), compare
per window: the relative error of every ratio r_k = sigma_k / sigma_{k+1}, the relative error of
the edge ratio at the exact k*, and whether the sketched k* hits the exact one; then mean and max
over windows. Run it over several seeds and d to get the fidelity curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.core.edge import RULES, edge_indices, edge_ratios, pick
from analyzer.errors import NonFiniteError, SpectrumError


@dataclass(frozen=True)
class Fidelity:
    """Per-window errors of a sketched spectrum against the exact one."""

    ratio_error: np.ndarray
    edge_ratio_error: np.ndarray
    edge_hit: np.ndarray

    def summary(self) -> dict[str, float]:
        """Mean and max over windows of the ratio errors, and the edge-index hit rate."""
        return {
            "ratio_error_mean": float(self.ratio_error.mean()),
            "ratio_error_max": float(self.ratio_error.max()),
            "edge_ratio_error_mean": float(self.edge_ratio_error.mean()),
            "edge_ratio_error_max": float(self.edge_ratio_error.max()),
            "edge_hit_rate": float(self.edge_hit.mean()),
        }


def spectra(windows: np.ndarray) -> np.ndarray:
    """Descending singular values (N, W) of stacked windows (N, W, D), zero-padded when D < W."""
    u = np.asarray(windows, dtype=np.float64)
    if u.ndim != 3 or u.shape[1] < 2 or u.shape[2] < 1:
        raise SpectrumError(f"windows must be N x W x D with W >= 2, got shape {u.shape}")
    if not np.isfinite(u).all():
        raise NonFiniteError("windows hold NaN or Inf")
    sigma = np.zeros(u.shape[:2])
    values = np.linalg.svd(u, compute_uv=False)
    sigma[:, : values.shape[1]] = values
    return sigma


def compare(sketched: np.ndarray, exact: np.ndarray, rule: str = "weighted") -> Fidelity:
    """Errors of sketched against exact descending spectra (N, W) under the edge `rule`."""
    s, e = np.asarray(sketched, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if s.shape != e.shape or s.ndim != 2 or s.shape[1] < 2:
        raise SpectrumError(f"spectra must share an N x W shape, got {s.shape} and {e.shape}")
    if rule not in RULES:
        raise SpectrumError(f"unknown edge rule {rule!r}; choose one of {RULES}")
    rs, re = edge_ratios(s), edge_ratios(e)
    relative = np.abs(rs - re) / re
    k_sketch = edge_indices(s, rs)[rule]
    k_exact = edge_indices(e, re)[rule]
    edge_error = np.abs(pick(rs, k_exact) - pick(re, k_exact)) / pick(re, k_exact)
    return Fidelity(relative.mean(axis=1), edge_error, k_sketch == k_exact)
