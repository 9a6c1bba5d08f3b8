"""Top eigenvectors by inverse iteration against eigh, and direction stability in Gram space."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core import direction


def test_top_vectors_equal_eigh() -> None:
    rng = np.random.default_rng(1)
    u = rng.normal(size=(300, 12, 40)) * 10.0 ** rng.integers(-150, 150, size=(300, 1, 1))
    grams = u @ u.transpose(0, 2, 1)
    values, vectors = np.linalg.eigh(grams)
    got = direction.top_vectors(grams, values[:, -1])
    gap = (values[:, -1] - values[:, -2]) / values[:, -1]
    error = 1.0 - np.abs(np.einsum("nw,nw->n", got, vectors[..., -1]))
    assert np.all(error <= 1e-13 / np.minimum(gap, 1.0) ** 2)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-14)


def test_zero_gram_has_no_top_vector() -> None:
    got = direction.top_vectors(np.zeros((2, 3, 3)), np.zeros(2))
    assert np.isnan(got).all()


def test_stability_from_cross_gram_equals_sketch_space_cosine() -> None:
    rng = np.random.default_rng(2)
    n, w, d = 20, 6, 25
    u = rng.normal(size=(n, w + 1, d)) + rng.normal(size=(n, 1, d)) * 2.0
    ext = u @ u.transpose(0, 2, 1)
    prev_g, now_g, cross = ext[:, :-1, :-1], ext[:, 1:, 1:], ext[:, :-1, 1:]
    prev_top = direction.tops(prev_g, np.linalg.eigvalsh(prev_g)[:, -1])
    now_top = direction.tops(now_g, np.linalg.eigvalsh(now_g)[:, -1])
    got = direction.stability(prev_top, cross, now_top)
    v_prev = np.einsum("nwd,nw->nd", u[:, :-1], prev_top)  # v1 = U^T top in sketch space
    v_now = np.einsum("nwd,nw->nd", u[:, 1:], now_top)
    np.testing.assert_allclose(np.linalg.norm(v_now, axis=1), 1.0, rtol=1e-12)
    for i in range(n):
        expected = direction.cosine(v_prev[i], v_now[i])
        assert expected == pytest.approx(float(got[i]), rel=1e-10)
        right = np.linalg.svd(u[i, 1:])[2][0]
        assert abs(right @ v_now[i]) == pytest.approx(1.0, rel=1e-12)


def test_cosine_of_zero_or_missing_is_none() -> None:
    assert direction.cosine(np.zeros(3), np.ones(3)) is None
    assert direction.cosine(np.full(3, np.nan), np.ones(3)) is None
    assert direction.cosine(np.array([1.0, 0.0]), np.array([-2.0, 0.0])) == 1.0
