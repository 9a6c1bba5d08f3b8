"""Window metrics against numpy's SVD, and the documented conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.core import spectrum
from analyzer.errors import AnalyzerError, NonFiniteError, SpectrumError
from analyzer.records import WindowRecord

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


# --- property-based equality with numpy's SVD, batched evaluation, flags and direction ----------

KINDS = ("random", "rank_deficient", "zero", "huge_range", "steep")


@st.composite
def windows(draw: st.DrawFn) -> np.ndarray:
    """A W x d window of one of KINDS, built from a drawn seed."""
    kind = draw(st.sampled_from(KINDS))
    w, d = draw(st.integers(2, 30)), draw(st.integers(1, 64))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "random":
        return rng.normal(size=(w, d)) * 10.0 ** draw(st.integers(-50, 50))
    if kind == "rank_deficient":
        rank = draw(st.integers(1, max(1, min(w, d) - 1)))
        return rng.normal(size=(w, rank)) @ rng.normal(size=(rank, d))
    if kind == "steep":
        decades = np.linspace(0.0, draw(st.floats(0.0, 14.0)), w)
        left = np.linalg.qr(rng.normal(size=(w, w)))[0]
        return (left * 10.0**-decades) @ rng.normal(size=(w, d))
    if kind == "zero":
        u = rng.normal(size=(w, d))
        u[rng.random(w) < draw(st.floats(0.5, 1.0))] = 0.0
        return u
    return rng.normal(size=(w, d)) * 10.0 ** rng.integers(-100, 100, size=(w, 1))


def _relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """max_k |got_k - sigma_k| / max(sigma_k, RATIO_FLOOR * sigma_1): relative, tiny vs sigma_1."""
    scale = np.maximum(expected, spectrum.RATIO_FLOOR * expected[0])
    if expected[0] == 0.0:
        return float(np.max(np.abs(got)))
    return float(np.max(np.abs(np.asarray(got) - expected) / scale))


@settings(max_examples=300, deadline=None)
@given(windows())
def test_sigma_equals_svd_on_every_route(u: np.ndarray) -> None:
    expected = _svd(u)
    gram = u @ u.T
    assert _relative_error(np.array(spectrum.window_metrics(u).sigma), expected) <= 1e-9
    batch = spectrum.batch_metrics(gram[None], updates=u[None])
    assert _relative_error(batch.sigma[0], expected) <= 1e-9
    # From the Gram alone, small sigma are limited by squaring: eigenvalues to ~W eps lambda_1.
    alone = spectrum.batch_metrics(gram[None]).sigma[0]
    lam_error = np.max(np.abs(alone**2 - expected**2))
    assert lam_error <= 16 * u.shape[0] * np.finfo(float).eps * expected[0] ** 2
    if expected[-1] ** 2 >= spectrum.REFINE * expected[0] ** 2:
        assert _relative_error(alone, expected) <= 1e-9


@settings(max_examples=100, deadline=None)
@given(windows())
def test_batch_rows_equal_single_window_metrics(u: np.ndarray) -> None:
    single = spectrum.window_metrics(u)
    row = spectrum.batch_metrics((u @ u.T)[None], updates=u[None]).row(0)
    assert row.k_star == single.k_star
    np.testing.assert_allclose(row.ratios, single.ratios, rtol=1e-6)
    np.testing.assert_allclose(row.energy, single.energy, rtol=1e-9, atol=1e-15)
    assert row.k95 == single.k95
    assert row.drift_speed == pytest.approx(single.drift_speed, rel=1e-9, abs=1e-300)


def test_batch_equals_rows_one_by_one() -> None:
    rng = np.random.default_rng(6)
    u = rng.normal(size=(50, 10, 40)) * rng.uniform(0.1, 10.0, size=(50, 10, 1))
    grams = u @ u.transpose(0, 2, 1)
    for rule in spectrum.RULES:
        batch = spectrum.batch_metrics(grams, rule)
        assert len(batch) == 50
        for i, row in enumerate(batch.rows()):
            alone = spectrum.metrics_from_gram(grams[i], rule)
            assert row == alone
            assert row.k_star == {r: int(k[i]) for r, k in batch.k_star.items()}


def test_batch_non_finite_names_the_rows() -> None:
    grams = np.stack([np.eye(4)] * 5)
    grams[3, 1, 2] = np.nan
    with pytest.raises(NonFiniteError, match=r"rows \[3\]"):
        spectrum.batch_metrics(grams)
    with pytest.raises(SpectrumError):
        spectrum.batch_metrics(np.ones((2, 3, 4)))
    with pytest.raises(SpectrumError):
        spectrum.batch_metrics(np.stack([np.eye(3)]), flags=[["gap"], ["gap"]])


def test_flags_pass_through_and_unknown_flags_are_refused() -> None:
    u = np.random.default_rng(7).normal(size=(5, 8))
    got = spectrum.window_metrics(u, flags=["incomplete", "gap", "gap"])
    assert got.flags == ["incomplete", "gap"]
    assert got.fields()["flags"] == ["incomplete", "gap"]
    batch = spectrum.batch_metrics(np.stack([u @ u.T] * 2), flags=[[spectrum.FLAG_GAP], []])
    assert [r.flags for r in batch.rows()] == [["gap"], []]
    with pytest.raises(SpectrumError):
        spectrum.metrics_from_sigma([2.0, 1.0], flags=["late"])
    with pytest.raises(SpectrumError):
        spectrum.window_metrics(u, flags="gap")


def test_fields_build_a_window_record() -> None:
    u = np.random.default_rng(8).normal(size=(6, 9))
    metrics = spectrum.window_metrics(u, previous=np.ones(9), flags=["gap"])
    record = WindowRecord(run_id="r", group="g", window=6, index=6, step=60, **metrics.fields())
    assert record.flags == ["gap"]
    assert record.direction_stability == metrics.direction_stability
    assert "direction" not in metrics.fields() and "top" not in metrics.fields()


def test_direction_stability_matches_consecutive_svd_directions() -> None:
    rng = np.random.default_rng(9)
    drift = rng.normal(size=30)
    updates = np.array([drift * (1 + 0.05 * i) + rng.normal(size=30) for i in range(12)])
    w = 8
    first = spectrum.window_metrics(updates[:w])
    second = spectrum.window_metrics(updates[1 : w + 1], previous=first.direction)
    v1 = np.linalg.svd(updates[:w])[2][0]
    v2 = np.linalg.svd(updates[1 : w + 1])[2][0]
    assert second.direction_stability == pytest.approx(abs(v1 @ v2), rel=1e-12)
    assert first.direction_stability is None
    gram_ext = updates[: w + 1] @ updates[: w + 1].T
    via_gram = spectrum.metrics_from_gram(
        gram_ext[1:, 1:], cross=gram_ext[:-1, 1:], previous=first.top
    )
    assert via_gram.direction_stability == pytest.approx(abs(v1 @ v2), rel=1e-10)


def test_zero_window_has_no_direction() -> None:
    got = spectrum.window_metrics(np.zeros((4, 5)), previous=np.ones(5))
    assert (got.direction, got.top, got.direction_stability) == (None, None, None)
    batch = spectrum.batch_metrics(
        np.zeros((1, 4, 4)), cross=np.zeros((1, 4, 4)), previous=np.ones((1, 4))
    )
    assert batch.row(0).direction_stability is None
    assert np.isnan(batch.top).all()


@pytest.mark.parametrize("w", [2, 3, 10, 30])
def test_a_row_does_not_depend_on_its_batch(w: int) -> None:
    rng = np.random.default_rng(w)
    u = rng.normal(size=(120, w + 1, 16))
    ext = u @ u.transpose(0, 2, 1)
    grams, cross = ext[:, 1:, 1:].copy(), ext[:, :-1, 1:].copy()
    previous = spectrum.batch_metrics(ext[:, :-1, :-1].copy()).top
    kwargs = {"cross": cross, "previous": previous, "updates": u[:, 1:]}
    full = spectrum.batch_metrics(grams, **kwargs)
    for start, stop in ((0, 1), (5, 12), (40, 104), (119, 120)):
        part = spectrum.batch_metrics(
            grams[start:stop], **{k: v[start:stop] for k, v in kwargs.items()}
        )
        assert part.rows() == full.rows()[start:stop]
        np.testing.assert_array_equal(
            part.direction_stability, full.direction_stability[start:stop]
        )
        np.testing.assert_array_equal(part.top, full.top[start:stop])


def test_cancelling_updates_take_the_drift_from_the_updates() -> None:
    rng = np.random.default_rng(12)
    base = rng.normal(size=50)
    signs = np.array([1.0, -1.0] * 5)[:, None]
    u = signs * base + 1e-7 * rng.normal(size=(10, 50))
    expected = float(np.linalg.norm(u.sum(axis=0))) / 10
    exact = spectrum.batch_metrics((u @ u.T)[None], updates=u[None]).drift_speed[0]
    assert exact == pytest.approx(expected, rel=1e-9)
    rough = spectrum.batch_metrics((u @ u.T)[None]).drift_speed[0]
    assert abs(rough - expected) > 1e-6 * expected  # why the refinement exists
