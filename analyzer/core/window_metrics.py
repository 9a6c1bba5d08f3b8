"""Window metrics as records (`WindowMetrics`) and as a struct of arrays over N windows.

`SpectrumBatch.from_spectra` turns spectra (N, W) into every metric of design section 7 with
whole-array numpy operations only, so the cost of a batch is a few passes over N x W numbers on
top of the eigenvalue solver. The definitions are in `analyzer.core.spectrum` and
`analyzer.core.edge`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer.core.edge import RULES, edge_indices, edge_ratios, pick
from analyzer.errors import NonFiniteError, SpectrumError

ENERGY_LEVEL = 0.95


@dataclass(frozen=True)
class WindowMetrics:
    """The metric fields of a `records.WindowRecord` (k_star maps rule name to 1-based k).

    `direction` (v1 in sketch space, d,) and `top` (a1 / sigma1, W,) feed the next window's
    direction stability; they are not record fields.
    """

    sigma: list[float]
    ratios: list[float]
    k_star: dict[str, int]
    edge_ratio: float
    gap: float
    g23: float
    energy: list[float]
    k95: int
    drift_speed: float
    direction_stability: float | None = None
    flags: list[str] = field(default_factory=list)
    direction: np.ndarray | None = field(default=None, repr=False, compare=False)
    top: np.ndarray | None = field(default=None, repr=False, compare=False)

    def fields(self) -> dict[str, Any]:
        """The record fields as a dict, ready for `WindowRecord(**fields, ...)`."""
        names = self.__dataclass_fields__
        return {k: getattr(self, k) for k, f in names.items() if f.compare}


@dataclass(frozen=True)
class SpectrumBatch:
    """Every metric of N windows as arrays; NaN direction stability or top means none."""

    sigma: np.ndarray
    ratios: np.ndarray
    k_star: dict[str, np.ndarray]
    edge_ratio: np.ndarray
    gap: np.ndarray
    g23: np.ndarray
    energy: np.ndarray
    k95: np.ndarray
    drift_speed: np.ndarray
    direction_stability: np.ndarray
    top: np.ndarray
    flags: list[list[str]]

    def __len__(self) -> int:
        """Number of windows."""
        return int(self.sigma.shape[0])

    @classmethod
    def from_spectra(
        cls,
        sigma: np.ndarray,
        lam: np.ndarray,
        drift: np.ndarray,
        rule: str,
        stable: np.ndarray,
        top: np.ndarray,
        flags: list[list[str]],
    ) -> SpectrumBatch:
        """All metrics from descending sigma and lambda = sigma^2 (N, W) and drift speeds (N,)."""
        if rule not in RULES:
            raise SpectrumError(f"unknown edge rule {rule!r}; choose one of {RULES}")
        with np.errstate(over="ignore", invalid="ignore"):
            total = lam.sum(axis=1)
        finite = np.isfinite(total) & np.isfinite(drift)
        if not finite.all():
            rows = np.flatnonzero(~finite)[:10].tolist()
            raise NonFiniteError(f"the spectrum overflows float64 (rows {rows})")
        width = sigma.shape[1]
        ratios = edge_ratios(sigma)
        k_star = edge_indices(sigma, ratios)
        k = k_star[rule]
        live = total > 0.0
        safe = np.where(live, total, 1.0)[:, None]
        energy = np.where(live[:, None], lam / safe, 0.0)
        below = (np.cumsum(lam, axis=1) < ENERGY_LEVEL * safe).sum(axis=1)
        third = lam[:, 2] if width > 2 else 0.0
        return cls(
            sigma=sigma,
            ratios=ratios,
            k_star=k_star,
            edge_ratio=pick(ratios, k),
            gap=pick(lam, k) - pick(lam, k + 1),
            g23=lam[:, 1] - third,
            energy=energy,
            k95=np.where(live, np.minimum(below + 1, width), 0),
            drift_speed=drift,
            direction_stability=stable,
            top=top,
            flags=flags,
        )

    def row(self, i: int) -> WindowMetrics:
        """Window i as a `WindowMetrics` record."""
        stable = float(self.direction_stability[i])
        top = self.top[i]
        return WindowMetrics(
            sigma=self.sigma[i].tolist(),
            ratios=self.ratios[i].tolist(),
            k_star={rule: int(k[i]) for rule, k in self.k_star.items()},
            edge_ratio=float(self.edge_ratio[i]),
            gap=float(self.gap[i]),
            g23=float(self.g23[i]),
            energy=self.energy[i].tolist(),
            k95=int(self.k95[i]),
            drift_speed=float(self.drift_speed[i]),
            direction_stability=None if np.isnan(stable) else stable,
            flags=list(self.flags[i]),
            top=None if np.isnan(top).any() else top.copy(),
        )

    def rows(self) -> list[WindowMetrics]:
        """Every window as a record (whole-array conversions, then one record per window)."""
        rules = list(self.k_star)
        k_rows = zip(*(self.k_star[r].tolist() for r in rules), strict=True)
        stable = [None if v != v else v for v in self.direction_stability.tolist()]
        live = ~np.isnan(self.top).any(axis=1)
        columns = zip(
            self.sigma.tolist(),
            self.ratios.tolist(),
            k_rows,
            self.edge_ratio.tolist(),
            self.gap.tolist(),
            self.g23.tolist(),
            self.energy.tolist(),
            self.k95.tolist(),
            self.drift_speed.tolist(),
            stable,
            self.flags,
            strict=True,
        )
        records = []
        for i, row in enumerate(columns):
            sigma, ratios, ks, edge_ratio, gap, g23, energy, k95, drift, stability, flags = row
            k_star = dict(zip(rules, ks, strict=True))
            top = self.top[i].copy() if live[i] else None
            metrics = (sigma, ratios, k_star, edge_ratio, gap, g23, energy, k95, drift, stability)
            records.append(WindowMetrics(*metrics, flags=list(flags), top=top))
        return records
