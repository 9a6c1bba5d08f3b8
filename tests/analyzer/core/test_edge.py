"""k* rules, ratios and the noise floor on hand-made spectra, vectorised and one by one."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core import edge

EXAMPLE = [198.58, 169.08, 122.47, 110.73, 106.22, 92.66, 78.30, 61.27, 44.58, 22.79]


def _k(sigma: list[float]) -> dict[str, int]:
    s = np.array(sigma)
    return {rule: int(k) for rule, k in edge.edge_indices(s, edge.edge_ratios(s)).items()}


def test_reference_spectrum_argmax_9_weighted_2() -> None:
    assert _k(EXAMPLE) == {"argmax": 9, "weighted": 2, "floor": 2}
    ratios = edge.edge_ratios(np.array(EXAMPLE))
    assert ratios[8] == pytest.approx(44.58 / 22.79)
    assert int(np.argmax(ratios)) + 1 == 9


def test_noise_floor_is_half_the_median_of_the_lower_half() -> None:
    s = np.array(EXAMPLE)
    assert edge.noise_floor(s) == pytest.approx(0.5 * np.median(s[5:]))
    odd = np.array([9.0, 5.0, 4.0, 3.0, 1.0])
    assert edge.noise_floor(odd) == pytest.approx(0.5 * np.median(odd[3:]))
    assert edge.noise_floor(np.array([3.0, 1.0])) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("sigma", "expected"),
    [
        ([10.0, 1.0, 0.9, 0.8], {"argmax": 1, "weighted": 1, "floor": 1}),
        (
            [10.0, 9.0, 4.0, 3.9, 3.8, 3.7, 3.6, 3.5, 3.4, 0.01],
            {"argmax": 9, "weighted": 9, "floor": 2},
        ),
        ([5.0, 5.0, 5.0, 5.0], {"argmax": 1, "weighted": 1, "floor": 1}),
        ([8.0, 4.0, 2.0, 1.0], {"argmax": 1, "weighted": 1, "floor": 1}),
        ([4.0, 3.9, 1.0, 0.99, 0.98, 0.97], {"argmax": 2, "weighted": 2, "floor": 2}),
        ([1.0, 0.0, 0.0], {"argmax": 1, "weighted": 1, "floor": 1}),
        ([0.0, 0.0, 0.0], {"argmax": 1, "weighted": 1, "floor": 1}),
    ],
)
def test_k_star_on_hand_made_spectra(sigma: list[float], expected: dict[str, int]) -> None:
    assert _k(sigma) == expected


def test_floor_rule_keeps_what_argmax_loses_to_a_tiny_last_value() -> None:
    # A tiny sigma_W makes the last ratio huge: argmax and even weighted pick it, floor does not.
    s = np.array([10.0, 9.0, 4.0, 3.9, 3.8, 3.7, 3.6, 3.5, 3.4, 0.01])
    assert s[-1] < edge.noise_floor(s) < s[2]
    assert _k(s.tolist())["floor"] == 2
    # Only an all-zero window leaves no k above the floor; every rule then says 1.
    assert _k([0.0, 0.0, 0.0, 0.0]) == {"argmax": 1, "weighted": 1, "floor": 1}


def test_ratios_floor_tiny_values_and_zero_windows() -> None:
    assert edge.edge_ratios(np.array([1.0, 1e-9, 0.0])).tolist() == [1e6, 1.0]
    assert edge.edge_ratios(np.zeros(4)).tolist() == [1.0, 1.0, 1.0]


def test_vectorised_rules_equal_one_by_one() -> None:
    rng = np.random.default_rng(0)
    sigma = -np.sort(-(rng.gamma(1.0, size=(200, 12)) ** 3), axis=1)
    sigma[::7, -3:] = 0.0
    sigma[5] = 0.0
    ratios = edge.edge_ratios(sigma)
    batch = edge.edge_indices(sigma, ratios)
    for i in range(sigma.shape[0]):
        assert {r: int(k[i]) for r, k in batch.items()} == _k(sigma[i].tolist())
    np.testing.assert_array_equal(edge.pick(ratios, batch["argmax"]), ratios.max(axis=1))
