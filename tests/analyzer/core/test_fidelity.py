"""JL fidelity helpers: exact numbers on hand-made spectra, and the expected trend in d."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core import fidelity
from analyzer.errors import NonFiniteError, SpectrumError


def test_identical_spectra_are_perfect() -> None:
    sigma = np.array([[4.0, 2.0, 1.0], [3.0, 3.0, 1.0]])
    got = fidelity.compare(sigma, sigma)
    assert got.summary() == {
        "ratio_error_mean": 0.0,
        "ratio_error_max": 0.0,
        "edge_ratio_error_mean": 0.0,
        "edge_ratio_error_max": 0.0,
        "edge_hit_rate": 1.0,
    }


def test_hand_computed_errors_and_edge_miss() -> None:
    exact = np.array([[4.0, 2.0, 1.0]])  # ratios 2, 2; weighted k* = 1
    sketched = np.array([[4.0, 1.0, 0.9]])  # ratios 4, 1.111; k* = 1
    got = fidelity.compare(sketched, exact)
    np.testing.assert_allclose(got.ratio_error, [(1.0 + (2 - 1 / 0.9) / 2) / 2])
    np.testing.assert_allclose(got.edge_ratio_error, [1.0])
    assert got.edge_hit.tolist() == [True]
    moved = fidelity.compare(np.array([[4.0, 3.9, 1.0]]), exact)
    assert moved.edge_hit.tolist() == [False]
    np.testing.assert_allclose(moved.edge_ratio_error, [abs(4.0 / 3.9 - 2.0) / 2.0])


def _windows(rng: np.random.Generator, n: int, w: int, p: int) -> np.ndarray:
    """Update windows with a clear edge after k = 2 (ratio ~4) plus isotropic noise."""
    basis = rng.normal(size=(n, 2, p))
    coef = rng.normal(size=(n, w, 2)) * np.array([8.0, 6.0])
    return coef @ basis + rng.normal(size=(n, w, p)) * 0.4


def test_gaussian_sketch_fidelity_improves_with_d() -> None:
    rng = np.random.default_rng(0)
    exact = _windows(rng, 40, 10, 3000)
    errors = {}
    for d in (25, 400):
        sketch = rng.normal(size=(3000, d)) / np.sqrt(d)
        got = fidelity.compare(fidelity.spectra(exact @ sketch), fidelity.spectra(exact))
        errors[d] = got.summary()
    assert errors[400]["ratio_error_mean"] < errors[25]["ratio_error_mean"] / 2
    assert errors[400]["edge_hit_rate"] == 1.0
    assert errors[400]["edge_ratio_error_max"] < 0.25


def test_spectra_pad_and_check() -> None:
    sigma = fidelity.spectra(np.ones((2, 3, 1)))
    np.testing.assert_allclose(sigma, [[np.sqrt(3), 0, 0]] * 2)
    with pytest.raises(NonFiniteError):
        fidelity.spectra(np.full((1, 2, 2), np.nan))
    with pytest.raises(SpectrumError):
        fidelity.compare(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(SpectrumError):
        fidelity.compare(np.ones((2, 3)), np.ones((2, 3)), rule="mode")
