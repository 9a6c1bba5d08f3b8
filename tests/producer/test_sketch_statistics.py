"""Statistical contracts of the sketch: unbiased Gram, structured updates, float64 precision.

Tolerances come from the operators' variances, computed in closed form for the inputs at hand:
for CountSketch, Var<Sx, Sy> = (||x||^2 ||y||^2 + <x, y>^2 - 2 sum x_i^2 y_i^2) / d; for the dense
Gaussian the same without the last term, which is also the bound the SRHT-mixed default is held to
(an orthogonal subsample of m >= 4096 buckets varies no more than a Gaussian projection).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from producer.dense import DenseGaussian
from producer.sketch import CountSketch

Operator = Callable[[int, int, np.ndarray], np.ndarray]  # (dim, seed, rows) -> sketched rows


def count_sketch(dim: int, seed: int, rows: np.ndarray) -> np.ndarray:
    sketch = CountSketch(dim, seed=seed, method="countsketch")
    return np.stack([sketch.sketch("w", row) for row in rows])


def srht(dim: int, seed: int, rows: np.ndarray) -> np.ndarray:
    """CountSketch into 4096 buckets, then the subsampled randomized Hadamard mix (the default)."""
    sketch = CountSketch(dim, seed=seed, method="countsketch-srht")
    return np.stack([sketch.sketch("w", row) for row in rows])


def dense(dim: int, seed: int, rows: np.ndarray) -> np.ndarray:
    return DenseGaussian(dim, seed=seed).sketch_rows("w", rows)


def folded(dim: int, seed: int, rows: np.ndarray) -> np.ndarray:
    """`i mod d` folding with random signs: the aliasing operator the design rules out."""
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=rows.shape[1])
    out = np.zeros((rows.shape[0], dim))
    for k, row in enumerate(rows):
        np.add.at(out[k], np.arange(row.size) % dim, signs * row)
    return out


def gram_variance(rows: np.ndarray, dim: int, hashed: bool) -> np.ndarray:
    """Closed-form variance of each sketched Gram entry."""
    norms = np.sum(rows**2, axis=1)
    gram = rows @ rows.T
    variance = np.outer(norms, norms) + gram**2
    if hashed:
        variance -= 2 * (rows**2) @ (rows**2).T
    return variance / dim


def normalised_errors(operator: Operator, rows: np.ndarray, dim: int, trials: int) -> np.ndarray:
    """err^2 / Var of every Gram entry (upper triangle) for each seed: shape (trials, entries)."""
    exact = rows @ rows.T
    variance = gram_variance(rows, dim, hashed=operator in (count_sketch, folded))
    upper = np.triu_indices(rows.shape[0])
    keep = variance[upper] > 0
    out = []
    for seed in range(trials):
        sketched = operator(dim, seed, rows)
        error = (sketched @ sketched.T - exact)[upper]
        out.append((error[keep] ** 2) / variance[upper][keep])
    return np.array(out)


@pytest.mark.parametrize("operator", [count_sketch, srht, dense])
def test_inner_products_are_unbiased(operator: Operator) -> None:
    """Mean over seeds of <Sx, Sy> within 5 standard errors of <x, y> (and of ||x||^2)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000)
    rows = np.stack([x, 0.6 * x + rng.standard_normal(3000)])
    dim, trials = 32, 300
    variance = gram_variance(rows, dim, hashed=operator is count_sketch)
    estimates = np.array([(s @ s.T) for s in (operator(dim, t, rows) for t in range(trials))])
    bias = estimates.mean(axis=0) - rows @ rows.T
    assert np.all(np.abs(bias) <= 5 * np.sqrt(variance / trials))


def structured_rows() -> np.ndarray:
    """A window of structured updates over a 64 x 64 weight (P = 4096)."""
    rng = np.random.default_rng(1)
    matrix = np.zeros((5, 64, 64))
    matrix[0, 7, :] = rng.standard_normal(64)  # one row
    matrix[1, :, 3] = rng.standard_normal(64)  # one column: stride 64
    matrix[2] = np.tile(rng.standard_normal(32), 128).reshape(64, 64)  # period 32 divides d
    matrix[3].flat[[5, 900, 2001, 3000, 4095]] = rng.standard_normal(5)  # a handful
    matrix[4] = rng.standard_normal((64, 64)) * 0.05  # dense background
    return matrix.reshape(5, -1)


def chebyshev_violations(ratios: np.ndarray) -> np.ndarray:
    """Entries whose errors exceed 3 sigma more often than Chebyshev's 1/9 allows.

    The allowance is 1/9 plus 3 binomial standard deviations over the seeds.
    """
    trials = ratios.shape[0]
    allowed = 1 / 9 + 3 * math.sqrt((1 / 9) * (8 / 9) / trials)
    return (ratios > 9).mean(axis=0) > allowed


@pytest.mark.parametrize("operator", [count_sketch, srht, dense])
def test_structured_updates_stay_within_the_theoretical_bound(operator: Operator) -> None:
    """Per Gram entry, 3-sigma misses obey Chebyshev; pooled err^2/Var has mean <= 1 (5 s.e.)."""
    ratios = normalised_errors(operator, structured_rows(), dim=128, trials=120)
    assert not chebyshev_violations(ratios).any()
    pooled = ratios.mean(axis=1)
    assert pooled.mean() <= 1 + 5 * pooled.std(ddof=1) / math.sqrt(pooled.size)


def test_the_structured_check_catches_mod_d_folding() -> None:
    """The same check fails for `i mod d` folding: it aliases the strided column update."""
    ratios = normalised_errors(folded, structured_rows(), dim=128, trials=120)
    assert chebyshev_violations(ratios).any()


@pytest.mark.parametrize("method", ["countsketch", "countsketch-srht"])
@pytest.mark.parametrize("native", [None, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tiny_updates_survive_float64_accumulation(
    native: bool | None, dtype: torch.dtype, method: str
) -> None:
    """S(theta + delta) - S(theta) equals S(delta) to 1e-6 when |delta| = 1e-6 |theta|."""
    generator = torch.Generator().manual_seed(2)
    theta = torch.randn(400_000, generator=generator, dtype=torch.float64)
    direction = torch.randn(400_000, generator=generator, dtype=torch.float64)
    delta = direction * (1e-6 * theta.norm() / direction.norm())
    before, after = theta.to(dtype), (theta + delta).to(dtype)
    true_delta = after.double() - before.double()  # what the stored parameters really moved
    assert true_delta.norm() / theta.norm() == pytest.approx(1e-6, rel=0.1)
    sketch = CountSketch(256, seed=9, native=native, method=method)
    difference = sketch.sketch("w", after) - sketch.sketch("w", before)
    expected = sketch.sketch("w", true_delta)
    assert np.linalg.norm(difference - expected) <= 1e-6 * np.linalg.norm(expected)
