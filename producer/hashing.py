"""The hash that defines every sketch: splitmix64 of (seed, parameter name, global element index).

`name_key(seed, name)` gives one 64-bit stream key per parameter; element i of that parameter gets
z = mix(i * GOLDEN + key), bucket ((z >> 32) * dim) >> 32 and sign -1 when z is odd. The same
function is written three times: numpy (`codes`), int64 torch ops for any device (`codes_torch`,
logical shifts by masking) and C (`producer.kernel`); tests hold them equal.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB


def mix_int(z: int) -> int:
    """splitmix64's finaliser on a Python int."""
    z = ((z ^ (z >> 30)) * MIX1) & MASK
    z = ((z ^ (z >> 27)) * MIX2) & MASK
    return z ^ (z >> 31)


def name_key(seed: int, name: str) -> int:
    """The 64-bit stream key of one parameter name under one seed."""
    digest = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    return mix_int(mix_int(seed & MASK) ^ digest)


def mixed(key: int, start: int, count: int) -> np.ndarray:
    """The raw 64-bit hashes of global indices start..start+count-1 (uint64)."""
    z = np.arange(start, start + count, dtype=np.uint64)
    z *= np.uint64(GOLDEN)
    z += np.uint64(key)
    z ^= z >> np.uint64(30)
    z *= np.uint64(MIX1)
    z ^= z >> np.uint64(27)
    z *= np.uint64(MIX2)
    z ^= z >> np.uint64(31)
    return z


def codes(key: int, start: int, count: int, dim: int) -> np.ndarray:
    """Hash global indices start..start+count-1 to `2 * bucket + (sign < 0)` as int32."""
    z = mixed(key, start, count)
    bucket = ((z >> np.uint64(32)) * np.uint64(dim)) >> np.uint64(32)
    return ((bucket << np.uint64(1)) | (z & np.uint64(1))).astype(np.int32)


def codes_torch(torch: Any, key: int, start: int, count: int, dim: int, device: Any) -> Any:
    """`codes` computed on `device` with int64 tensor ops (wrapping multiply, masked shifts)."""
    z = torch.arange(start, start + count, dtype=torch.int64, device=device)
    z = z * _signed(GOLDEN) + _signed(key)
    z = (z ^ _shr(z, 30)) * _signed(MIX1)
    z = (z ^ _shr(z, 27)) * _signed(MIX2)
    z = z ^ _shr(z, 31)
    bucket = (_shr(z, 32) * dim) >> 32
    return ((bucket << 1) | (z & 1)).to(torch.int32)


def _shr(z: Any, bits: int) -> Any:
    """Logical right shift of an int64 tensor holding uint64 bits."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def _signed(value: int) -> int:
    """The int64 with the same bits as the uint64 `value`."""
    return value - (1 << 64) if value >= 1 << 63 else value
