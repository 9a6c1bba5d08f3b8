"""The dense Gaussian reference operator: the paper's projection, for fidelity comparisons only.

Column i of parameter `name` is a d-vector of independent N(0, 1/d) entries, so E[S^T S] = I. The
columns come in blocks of `BLOCK` global indices, each block drawn from a Philox stream keyed by
(seed, name, block number): a shard regenerates exactly the columns of the blocks it touches, so
the operator is shard invariant like the CountSketch. Cost O(P d); never used inside training.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from producer.hashing import name_key

BLOCK = 4096


class DenseGaussian:
    """`sketch(name, values, offset)` -> float64 vector of length `dim` (a dense projection)."""

    def __init__(self, dim: int, seed: int = 0) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim, self.seed = dim, seed

    def sketch(self, name: str, values: Any, offset: int = 0) -> np.ndarray:
        """Project one tensor (or shard) whose first element has global flat index `offset`."""
        row: np.ndarray = self.sketch_rows(name, _flat(values)[None, :], offset)[0]
        return row

    def sketch_pieces(self, pieces: Iterable[tuple[str, Any, int]]) -> np.ndarray:
        """Sum of the projections of (name, values, global offset) pieces."""
        total = np.zeros(self.dim)
        for name, values, offset in pieces:
            total += self.sketch(name, values, offset)
        return total

    def sketch_rows(self, name: str, rows: np.ndarray, offset: int = 0) -> np.ndarray:
        """Project each row of an (n, count) array of the same coordinates: (n, dim)."""
        rows = np.asarray(rows, dtype=np.float64)
        out = np.zeros((rows.shape[0], self.dim))
        for start, stop, columns in self._columns(name, offset, rows.shape[1]):
            out += rows[:, start:stop] @ columns
        return out

    def _columns(self, name: str, offset: int, count: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield (local start, local stop, columns) for the blocks covering the range."""
        key = name_key(self.seed, name)
        position = offset
        while position < offset + count:
            block = position // BLOCK
            stop = min(offset + count, (block + 1) * BLOCK)
            matrix = self._block(key, block)
            lo = position - block * BLOCK
            yield position - offset, stop - offset, matrix[lo : lo + stop - position]
            position = stop

    def _block(self, key: int, block: int) -> np.ndarray:
        generator = np.random.Generator(np.random.Philox(key=(key << 64) | block))
        block_matrix: np.ndarray = generator.standard_normal((BLOCK, self.dim)) / np.sqrt(self.dim)
        return block_matrix


def _flat(values: Any) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values, torch.Tensor):
        values = values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)
