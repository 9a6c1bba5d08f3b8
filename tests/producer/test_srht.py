"""The SRHT mixing stage: an orthonormal Hadamard transform, seeded rows and signs, unbiased."""

from __future__ import annotations

import numpy as np
import pytest

from producer.sketch import CountSketch
from producer.srht import SRHT, buckets_for, hadamard


def test_hadamard_is_orthonormal_and_symmetric() -> None:
    matrix = np.stack([hadamard(row) for row in np.eye(16)])
    assert np.allclose(matrix @ matrix.T, np.eye(16)) and np.allclose(matrix, matrix.T)
    assert set(np.round(np.abs(matrix) * 4, 12).ravel()) == {1.0}


def test_bucket_count_and_seeded_layout() -> None:
    assert [buckets_for(d) for d in (1, 256, 4096, 4097, 10_000)] == [4096] * 3 + [8192, 16384]
    first, again, other = SRHT(4096, 100, seed=1), SRHT(4096, 100, seed=1), SRHT(4096, 100, 2)
    assert np.array_equal(first.rows, again.rows) and np.array_equal(first.signs, again.signs)
    assert not np.array_equal(first.rows, other.rows)
    assert len(set(first.rows.tolist())) == 100
    with pytest.raises(ValueError):
        SRHT(1000, 10, seed=0)


def test_mixing_preserves_norms_on_average() -> None:
    """E ||S b||^2 = ||b||^2 over the random rows and signs (5 standard errors)."""
    bucket_vector = np.random.default_rng(0).standard_normal(4096)
    norms = [np.sum(SRHT(4096, 64, seed=s)(bucket_vector) ** 2) for s in range(300)]
    target = np.sum(bucket_vector**2)
    assert abs(np.mean(norms) - target) <= 5 * np.std(norms) / np.sqrt(len(norms))


def test_default_method_is_mixed_and_linear() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 20_000))
    sketch = CountSketch(128, seed=2)
    assert sketch.method == "countsketch-srht" and sketch.buckets == 4096
    combined = sketch.sketch("w", 3 * x - y)
    expected = 3 * sketch.sketch("w", x) - sketch.sketch("w", y)
    assert np.linalg.norm(combined - expected) <= 1e-12 * np.linalg.norm(expected)
    with pytest.raises(ValueError):
        CountSketch(8, method="gaussian")
