"""Window metrics against numpy's SVD, and the documented conventions."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer import spectrum
from analyzer.errors import AnalyzerError, NonFiniteError, SpectrumError

EXAMPLE = [198.58, 169.08, 122.47, 110.73, 106.22, 92.66, 78.30, 61.27, 44.58, 22.79]


def _svd(u: np.ndarray) -> np.ndarray:
    sigma = np.zeros(u.shape[0])
    values = np.linalg.svd(u, compute_uv=False)
    sigma[: values.size] = values
    return sigma


@pytest.mark.parametrize(("w", "d", "seed"), [(10, 32, 0), (20, 256, 1), (30, 64, 2), (10, 4, 3)])
def test_sigma_matches_svd(w: int, d: int, seed: int) -> None:
    u = np.random.default_rng(seed).normal(size=(w, d))
    expected = _svd(u)
    got = spectrum.window_metrics(u)
    np.testing.assert_allclose(got.sigma, expected, rtol=1e-9, atol=1e-12 * expected[0])
    assert got.drift_speed == pytest.approx(np.linalg.norm(u.mean(axis=0)), rel=1e-12)


def test_gram_route_agrees_with_update_route() -> None:
    u = np.random.default_rng(4).normal(size=(10, 32))
    direct = spectrum.window_metrics(u)
    gram = spectrum.metrics_from_gram(u @ u.T)
    np.testing.assert_allclose(gram.sigma, direct.sigma, rtol=1e-9)
    np.testing.assert_allclose(gram.ratios, direct.ratios, rtol=1e-9)
    assert gram.k_star == direct.k_star
    assert gram.drift_speed == pytest.approx(direct.drift_speed, rel=1e-9)


def test_rank_deficient_window() -> None:
    rng = np.random.default_rng(5)
    basis = rng.normal(size=(3, 32))
    u = rng.normal(size=(10, 3)) @ basis
    expected = _svd(u)
    got = spectrum.window_metrics(u)
    np.testing.assert_allclose(got.sigma, expected, rtol=1e-9, atol=1e-12 * expected[0])
    assert got.ratios[2] == pytest.approx(expected[2] / (spectrum.RATIO_FLOOR * expected[0]))
    assert got.ratios[3:] == [1.0] * 6
    assert got.k_star == {"argmax": 3, "weighted": 3, "floor": 3}
    assert got.k95 <= 3
    gram = spectrum.metrics_from_gram(u @ u.T)
    np.testing.assert_allclose(gram.ratios, got.ratios, rtol=1e-6)
    assert gram.k_star == got.k_star


def test_zero_window() -> None:
    got = spectrum.window_metrics(np.zeros((5, 8)))
    assert got.sigma == [0.0] * 5
    assert got.ratios == [1.0] * 4
    assert got.k_star == {"argmax": 1, "weighted": 1, "floor": 1}
    assert (got.edge_ratio, got.gap, got.g23, got.k95, got.drift_speed) == (1.0, 0.0, 0.0, 0, 0.0)
    assert got.energy == [0.0] * 5


def test_k_star_rules_on_the_reference_spectrum() -> None:
    got = spectrum.metrics_from_sigma(EXAMPLE)
    assert got.k_star == {"argmax": 9, "weighted": 2, "floor": 2}
    assert got.edge_ratio == pytest.approx(169.08 / 122.47)
    assert spectrum.metrics_from_sigma(EXAMPLE, rule="argmax").edge_ratio == pytest.approx(
        44.58 / 22.79
    )


def test_floor_rule_ignores_a_tiny_last_value() -> None:
    sigma = [10.0, 9.0, 4.0, 3.9, 3.8, 3.7, 3.6, 3.5, 3.4, 0.01]
    got = spectrum.metrics_from_sigma(sigma)
    assert got.k_star["argmax"] == 9
    assert got.k_star["floor"] == 2


def test_energy_gap_g23_and_k95() -> None:
    sigma = np.array([4.0, 2.0, 1.0, 1.0])
    lam = sigma**2
    got = spectrum.metrics_from_sigma(sigma, drift_speed=0.5, rule="argmax")
    np.testing.assert_allclose(got.energy, lam / lam.sum())
    assert got.k95 == 3  # 16/22, 20/22, 21/22 >= 0.95
    assert got.k_star["argmax"] == 1  # ratios 2, 2, 1: ties go to the smallest k
    assert got.gap == pytest.approx(16.0 - 4.0)
    assert got.g23 == pytest.approx(4.0 - 1.0)
    assert got.drift_speed == 0.5


def test_two_update_window_counts_lambda3_as_zero() -> None:
    got = spectrum.metrics_from_sigma([3.0, 1.0])
    assert got.g23 == pytest.approx(1.0)
    assert got.ratios == [3.0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad: float) -> None:
    u = np.ones((4, 3))
    u[1, 2] = bad
    for call in (spectrum.window_metrics, spectrum.metrics_from_gram):
        with pytest.raises(NonFiniteError):
            call(u if call is spectrum.window_metrics else np.full((4, 4), bad))
    with pytest.raises(AnalyzerError):
        spectrum.metrics_from_sigma([1.0, bad])


def test_overflowing_spectrum_raises() -> None:
    with pytest.raises(NonFiniteError):
        spectrum.window_metrics(np.full((3, 4), 1e200))


@pytest.mark.parametrize("shape", [(1, 5), (5,), (0, 3), (3, 0)])
def test_bad_shapes_raise(shape: tuple[int, ...]) -> None:
    with pytest.raises(SpectrumError):
        spectrum.window_metrics(np.ones(shape))


def test_errors_are_value_errors_and_rules_are_checked() -> None:
    assert issubclass(NonFiniteError, ValueError)
    with pytest.raises(SpectrumError):
        spectrum.metrics_from_sigma([2.0, 1.0], rule="median")
    with pytest.raises(SpectrumError):
        spectrum.metrics_from_gram(np.ones((3, 2)))
