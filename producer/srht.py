"""The mixing stage of `countsketch-srht`: m hashed buckets to d coordinates by a subsampled
randomized Hadamard transform, y = sqrt(m / d) * (H D b)[rows].

H is the orthonormal m x m Hadamard matrix (applied in O(m log m), never stored), D random signs,
`rows` d distinct rows; both drawn from the seed alone, so every rank applies the same map. Since
H^T H = I and E[P^T P] = (d / m) I, the stage keeps E[S^T S] = I, and being linear it commutes
with the analyzer's sum of partial sketches. It spreads every bucket over all d outputs, so two
large coordinates that share a bucket among m = 4096+ cost what a dense projection costs, instead
of the 1/d collision odds of a d-bucket CountSketch.
"""

from __future__ import annotations

import numpy as np

from producer.hashing import mix_int

MIN_BUCKETS = 4096
_SALT = 0x5EED5A17


def buckets_for(dim: int) -> int:
    """m: the power of two >= max(dim, MIN_BUCKETS)."""
    return max(MIN_BUCKETS, 1 << (dim - 1).bit_length())


class SRHT:
    """`SRHT(m, d, seed)(b)` -> float64 vector of length d, for b of length m (a power of 2)."""

    def __init__(self, buckets: int, dim: int, seed: int) -> None:
        if buckets & (buckets - 1) or not 1 <= dim <= buckets:
            raise ValueError(f"need a power-of-two m >= d, got m={buckets}, d={dim}")
        generator = np.random.Generator(np.random.Philox(key=mix_int(seed ^ _SALT)))
        self.signs = generator.choice(np.array([-1.0, 1.0]), size=buckets)
        self.rows = np.sort(generator.choice(buckets, size=dim, replace=False))
        self.scale = np.sqrt(buckets / dim)

    def __call__(self, buckets: np.ndarray) -> np.ndarray:
        """Mix one bucket vector down to d coordinates."""
        mixed: np.ndarray = hadamard(buckets * self.signs)[self.rows] * self.scale
        return mixed


def hadamard(values: np.ndarray) -> np.ndarray:
    """The orthonormal fast Walsh-Hadamard transform of a power-of-two-length vector."""
    out = np.array(values, dtype=np.float64)
    size, half = out.size, 1
    while half < size:
        pairs = out.reshape(-1, 2, half)
        top, bottom = pairs[:, 0, :].copy(), pairs[:, 1, :]
        pairs[:, 0, :] += bottom
        pairs[:, 1, :] = top - bottom
        half *= 2
    transformed: np.ndarray = out / np.sqrt(size)
    return transformed
