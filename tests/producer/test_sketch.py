"""CountSketch: linear, unbiased, shard-invariant, identical over numpy, torch CPU and CUDA."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from producer.sketch import CHUNK, CountSketch

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


def close(a: np.ndarray, b: np.ndarray, rel: float = 1e-12) -> bool:
    return bool(np.linalg.norm(a - b) <= rel * max(np.linalg.norm(a), np.linalg.norm(b), 1e-300))


def test_output_is_float64_of_length_dim_and_deterministic() -> None:
    values = np.random.default_rng(0).standard_normal(1000)
    first = CountSketch(64, seed=3).sketch("w", values)
    assert first.dtype == np.float64 and first.shape == (64,)
    assert np.array_equal(first, CountSketch(64, seed=3).sketch("w", values))
    assert not np.allclose(first, CountSketch(64, seed=4).sketch("w", values))
    assert not np.allclose(first, CountSketch(64, seed=3).sketch("v", values))


def test_linearity() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 5000))
    sketch = CountSketch(128, seed=7)
    combined = sketch.sketch("w", 2.5 * x - 0.75 * y)
    assert close(combined, 2.5 * sketch.sketch("w", x) - 0.75 * sketch.sketch("w", y))


def test_expected_gram_is_identity() -> None:
    """Each column of S holds one ±1: diag(SᵀS) = 1, off-diagonal mean 0 and variance 1/d."""
    size, dim, trials = 24, 8, 400
    eye = np.eye(size)
    off_diagonal = ~np.eye(size, dtype=bool)
    total = np.zeros((size, size))
    collisions = 0
    for seed in range(trials):
        sketch = CountSketch(dim, seed=seed, method="countsketch")
        columns = np.stack([sketch.sketch("w", eye[j]) for j in range(size)], axis=1)
        gram = columns.T @ columns
        assert np.array_equal(np.diag(gram), np.ones(size))
        total += gram
        collisions += np.count_nonzero(gram[off_diagonal])
    off = (total / trials)[off_diagonal]
    sigma = math.sqrt(1 / (dim * trials))  # standard deviation of one averaged entry
    assert np.abs(off).max() < 5.5 * sigma  # 276 distinct pairs: a 5.5-sigma miss has odds ~1e-5
    assert abs(off.mean()) < 5 * sigma / math.sqrt(off.size / 2)
    assert collisions / (trials * off.size) == pytest.approx(1 / dim, rel=0.05)


def test_structured_updates_do_not_alias() -> None:
    """A strided pattern must spread over the buckets, not fold into one (no `i mod d`)."""
    dim = 64
    values = np.zeros(dim * 256)
    values[::dim] = 1.0
    result = CountSketch(dim, seed=0, method="countsketch").sketch("w", values)
    assert np.count_nonzero(result) > dim // 2
    assert np.sum(result**2) == pytest.approx(256, rel=0.5)


def test_shard_invariance_over_random_partitions() -> None:
    rng = np.random.default_rng(2)
    whole = rng.standard_normal(20_000).astype(np.float32)
    sketch = CountSketch(256, seed=11)
    expected = sketch.sketch("layer.weight", whole)
    for _ in range(5):
        cuts = np.sort(rng.choice(np.arange(1, whole.size), size=7, replace=False))
        bounds = [0, *cuts.tolist(), whole.size]
        parts = [
            sketch.sketch("layer.weight", whole[a:b], offset=a)
            for a, b in itertools.pairwise(bounds)
        ]
        assert close(np.sum(parts, axis=0), expected)


def test_tensor_parallel_row_split_matches_whole() -> None:
    weight = torch.randn(64, 48)
    sketch = CountSketch(128, seed=5)
    rows = [
        sketch.sketch("w", shard, offset=int(start) * 48)
        for start, shard in zip((0, 16, 40), torch.split(weight, [16, 24, 24]), strict=True)
    ]
    assert close(np.sum(rows, axis=0), sketch.sketch("w", weight))


def test_chunked_uncached_path_matches_cached() -> None:
    values = np.random.default_rng(3).standard_normal(CHUNK + 1234)
    cached = CountSketch(256, seed=1).sketch("big", values)
    uncached = CountSketch(256, seed=1, cache_elements=0).sketch("big", values)
    assert close(cached, uncached)
    split = CountSketch(256, seed=1, cache_elements=0)
    parts = split.sketch("big", values[:1000]) + split.sketch("big", values[1000:], offset=1000)
    assert close(parts, cached)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_torch_matches_numpy(device: str, dtype: torch.dtype) -> None:
    tensor = torch.randn(300, 70, generator=torch.Generator().manual_seed(4)).to(dtype)
    reference = CountSketch(200, seed=9).sketch("w", tensor.double().numpy(), offset=17)
    sketch = CountSketch(200, seed=9)
    for _ in range(2):  # first call builds the cached plan, the second uses it
        assert close(sketch.sketch("w", tensor.to(device), offset=17), reference)


def test_numpy_low_precision_and_non_contiguous_inputs() -> None:
    matrix = np.random.default_rng(5).standard_normal((40, 30))
    sketch = CountSketch(64, seed=2)
    half = matrix.astype(np.float16)
    assert close(sketch.sketch("w", half), sketch.sketch("w", half.astype(np.float64)))
    transposed = matrix.T
    assert close(sketch.sketch("t", transposed), sketch.sketch("t", transposed.copy()))
    as_tensor = torch.from_numpy(matrix).T
    assert close(sketch.sketch("t", as_tensor), sketch.sketch("t", transposed.copy()))


def test_tied_parameters_are_sketched_once() -> None:
    embedding = torch.nn.Embedding(50, 8)
    head = torch.nn.Linear(8, 50, bias=False)
    head.weight = embedding.weight
    model = torch.nn.ModuleDict({"embed": embedding, "head": head})
    named = list(model.named_parameters(remove_duplicate=False))
    assert len(named) == 2
    sketch = CountSketch(32, seed=0)
    assert close(sketch.sketch_parameters(named), sketch.sketch("embed.weight", embedding.weight))
    view = [("a", embedding.weight), ("b", embedding.weight.detach())]
    assert close(sketch.sketch_parameters(view), sketch.sketch("a", embedding.weight))


def test_sketch_parameters_sums_distinct_tensors() -> None:
    a, b = np.ones(10), np.arange(5.0)
    sketch = CountSketch(16, seed=0)
    expected = sketch.sketch("a", a) + sketch.sketch("b", b)
    assert close(sketch.sketch_parameters([("a", a), ("b", b), ("empty", np.zeros(0))]), expected)


def test_rejects_complex_values_and_bad_dim() -> None:
    with pytest.raises(TypeError):
        CountSketch(8).sketch("w", np.ones(3, dtype=complex))
    with pytest.raises(ValueError):
        CountSketch(0)
