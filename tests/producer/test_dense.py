"""The dense Gaussian reference: linear, seeded by (seed, name, global index), shard invariant."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from producer.dense import BLOCK, DenseGaussian


def close(a: np.ndarray, b: np.ndarray, rel: float = 1e-12) -> bool:
    return bool(np.linalg.norm(a - b) <= rel * max(np.linalg.norm(a), np.linalg.norm(b)))


def test_deterministic_per_seed_and_name() -> None:
    values = np.random.default_rng(0).standard_normal(100)
    first = DenseGaussian(16, seed=1).sketch("w", values)
    assert first.shape == (16,) and np.array_equal(first, DenseGaussian(16, 1).sketch("w", values))
    assert not np.allclose(first, DenseGaussian(16, seed=2).sketch("w", values))
    assert not np.allclose(first, DenseGaussian(16, seed=1).sketch("v", values))


def test_linear_and_rows_match_single_vectors() -> None:
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((3, 5000))
    operator = DenseGaussian(24, seed=3)
    batched = operator.sketch_rows("w", rows, offset=7)
    singles = np.stack([operator.sketch("w", row, offset=7) for row in rows])
    assert close(batched, singles)
    assert close(operator.sketch("w", 2 * rows[0] - rows[1], 7), 2 * singles[0] - singles[1])


def test_shard_invariance_across_block_boundaries() -> None:
    rng = np.random.default_rng(2)
    whole = rng.standard_normal(2 * BLOCK + 123)
    operator = DenseGaussian(20, seed=4)
    expected = operator.sketch("w", whole)
    cuts = [0, 1, BLOCK - 1, BLOCK + 5, 2 * BLOCK, whole.size]
    parts = [(("w", whole[a:b], a)) for a, b in itertools.pairwise(cuts)]
    assert close(operator.sketch_pieces(parts), expected)


def test_columns_have_variance_one_over_d() -> None:
    """Each entry of S is N(0, 1/d): the norm of a one-hot's sketch squared is chi^2_d / d."""
    operator = DenseGaussian(50, seed=5)
    squares = [np.sum(operator.sketch("w", np.eye(1, 400, k)[0]) ** 2) for k in range(400)]
    # mean of 400 chi^2_50/50 draws: standard deviation sqrt(2/50/400) = 0.01
    assert np.mean(squares) == pytest.approx(1.0, abs=0.05)


def test_accepts_torch_tensors() -> None:
    tensor = torch.randn(30, 40, dtype=torch.bfloat16)
    operator = DenseGaussian(8, seed=0)
    assert close(operator.sketch("w", tensor), operator.sketch("w", tensor.double().numpy()))
