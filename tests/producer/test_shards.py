"""Local pieces at global offsets: any partition of a tensor sketches to the whole's sketch."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from producer.shards import block_pieces, flat_slice_pieces, local_pieces
from producer.sketch import CountSketch


def close(a: np.ndarray, b: np.ndarray, rel: float = 1e-12) -> bool:
    return bool(np.linalg.norm(a - b) <= rel * max(np.linalg.norm(a), np.linalg.norm(b)))


def chunk_offsets(size: int, parts: int) -> list[int]:
    """Row offsets of torch.chunk(dim=0), the layout FSDP2 uses (later chunks may be short)."""
    step = -(-size // parts)
    return [min(k * step, size) for k in range(parts)]


def test_plain_tensor_is_one_piece_at_zero() -> None:
    weight = torch.randn(3, 4)
    ((name, values, offset),) = local_pieces("w", weight)
    assert name == "w" and values is weight and offset == 0


def test_fsdp_dim0_chunks_sum_to_the_whole() -> None:
    weight = torch.randn(7, 5)
    sketch = CountSketch(64, seed=1)
    for world in (2, 3, 4, 8):
        chunks = torch.chunk(weight, world, dim=0)
        pieces = []
        for offset, chunk in zip(chunk_offsets(7, world), chunks, strict=False):
            pieces += block_pieces("w", chunk, (7, 5), (offset, 0))
        assert close(sketch.sketch_pieces(pieces), sketch.sketch("w", weight))


def test_column_and_2d_blocks_sum_to_the_whole() -> None:
    """Tensor-parallel column splits and 2-d meshes cut inner dimensions: one piece per row."""
    weight = torch.randn(6, 10, 3)
    sketch = CountSketch(64, seed=2)
    expected = sketch.sketch("w", weight)
    pieces = []
    for rows, cols in itertools.product([(0, 4), (4, 6)], [(0, 3), (3, 7), (7, 10)]):
        block = weight[rows[0] : rows[1], cols[0] : cols[1]]
        pieces += block_pieces("w", block, (6, 10, 3), (rows[0], cols[0], 0))
    assert close(sketch.sketch_pieces(pieces), expected)
    assert block_pieces("w", weight[:0], (6, 10, 3), (0, 0, 0)) == []


def test_flat_parameter_slices_sum_to_the_parameters() -> None:
    """FSDP1/ZeRO flat buffers: a rank's slice may span several parameters and padding."""
    params = {"a": torch.randn(5, 3), "b": torch.randn(7), "c": torch.randn(2, 2, 2)}
    layout = [(name, p.numel()) for name, p in params.items()]
    flat = torch.cat([p.reshape(-1) for p in params.values()] + [torch.zeros(3)])  # padded
    sketch = CountSketch(32, seed=3)
    expected = sketch.sketch_parameters(params.items())
    for world in (1, 2, 3, 5):
        size = -(-flat.numel() // world)
        pieces = []
        for rank in range(world):
            pieces += flat_slice_pieces(layout, rank * size, flat[rank * size : (rank + 1) * size])
        assert close(sketch.sketch_pieces(pieces), expected)


def test_random_partitions_of_a_flat_tensor() -> None:
    rng = np.random.default_rng(4)
    whole = torch.from_numpy(rng.standard_normal(10_000))
    sketch = CountSketch(128, seed=5)
    for _ in range(5):
        cuts = sorted(rng.choice(np.arange(1, whole.numel()), size=9, replace=False).tolist())
        bounds = [0, *cuts, whole.numel()]
        pieces = [("w", whole[a:b], a) for a, b in itertools.pairwise(bounds)]
        assert close(sketch.sketch_pieces(pieces), sketch.sketch("w", whole))
