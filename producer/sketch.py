"""CountSketch: a linear, seeded, shard-invariant map from parameters to R^d.

Element i of parameter `name` goes to one bucket with one sign, both taken from a splitmix64 hash
of (seed, blake2b key of the name, global index i), so E[SᵀS] = I and the sketch of a tensor equals
the sum of the sketches of its shards at their global offsets. Sums are float64, chunked to bound
memory; the (bucket, sign) plan of small tensors is cached. Torch tensors are summed on device.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

CHUNK = 1 << 20
CACHE_ELEMENTS = 1 << 24
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def name_key(seed: int, name: str) -> int:
    """The 64-bit stream key of one parameter name under one seed."""
    digest = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    return _mix_int(_mix_int(seed & _MASK) ^ digest)


def codes(key: int, start: int, count: int, dim: int) -> np.ndarray:
    """Hash global indices start..start+count-1 to `2 * bucket + (sign < 0)` as int32."""
    z = np.arange(start, start + count, dtype=np.uint64)
    z *= np.uint64(_GOLDEN)
    z += np.uint64(key)
    z ^= z >> np.uint64(30)
    z *= np.uint64(_MIX1)
    z ^= z >> np.uint64(27)
    z *= np.uint64(_MIX2)
    z ^= z >> np.uint64(31)
    bucket = ((z >> np.uint64(32)) * np.uint64(dim)) >> np.uint64(32)
    return ((bucket << np.uint64(1)) | (z & np.uint64(1))).astype(np.int32)


class CountSketch:
    """`sketch(name, values, offset)` -> float64 vector of length `dim`, with no P x d matrix."""

    def __init__(self, dim: int, seed: int = 0, *, cache_elements: int = CACHE_ELEMENTS) -> None:
        if not 1 <= dim <= 1 << 16:
            raise ValueError(f"dim must be in [1, 65536], got {dim}")
        self.dim = dim
        self.seed = seed
        self._cache_left = cache_elements
        self._plans: dict[tuple[str, int, int, str], Any] = {}

    def sketch(self, name: str, values: Any, offset: int = 0) -> np.ndarray:
        """Sketch one tensor (or shard) whose first element has global flat index `offset`."""
        accs: dict[Any, Any] = {}
        self._accumulate(name, values, offset, accs)
        return self._finish(accs)

    def sketch_parameters(self, named: Iterable[tuple[str, Any]]) -> np.ndarray:
        """Sum of the sketches of named tensors, each tied tensor counted once (its first name).

        The tensors stay referenced until the call returns, so no address is reused meanwhile.
        """
        accs: dict[Any, Any] = {}
        seen: dict[Any, Any] = {}
        for name, values in named:
            identity = _storage_identity(values)
            if identity in seen:
                continue
            seen[identity] = values
            self._accumulate(name, values, 0, accs)
        return self._finish(accs)

    def _accumulate(self, name: str, values: Any, offset: int, accs: dict[Any, Any]) -> None:
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(values, torch.Tensor):
            self._accumulate_torch(torch, name, values, offset, accs)
            return
        flat = np.asarray(values).reshape(-1)
        if np.iscomplexobj(flat):
            raise TypeError(f"cannot sketch complex values of {name!r}")
        acc = accs.setdefault("numpy", np.zeros(2 * self.dim))
        for start, stop, plan in self._plan(name, offset, flat.size, "cpu"):
            weights = flat[start:stop].astype(np.float64, copy=False)
            acc += np.bincount(plan, weights=weights, minlength=2 * self.dim)

    def _accumulate_torch(
        self, torch: Any, name: str, values: Any, offset: int, accs: dict[Any, Any]
    ) -> None:
        if values.is_complex():
            raise TypeError(f"cannot sketch complex values of {name!r}")
        flat = values.detach().reshape(-1)
        device = flat.device
        acc = accs.get(device)
        if acc is None:
            acc = accs[device] = torch.zeros(2 * self.dim, dtype=torch.float64, device=device)
        for start, stop, plan in self._plan(name, offset, flat.numel(), str(device)):
            index = torch.from_numpy(plan) if isinstance(plan, np.ndarray) else plan
            index = index.to(device, non_blocking=True)
            acc.index_add_(0, index, flat[start:stop].to(torch.float64))

    def _plan(
        self, name: str, offset: int, numel: int, device: str
    ) -> Iterator[tuple[int, int, Any]]:
        """Yield (start, stop, codes) chunks of the plan, from the cache when it fits there."""
        cache_key = (name, offset, numel, device)
        plan = self._plans.get(cache_key)
        if plan is None and 0 < numel <= self._cache_left:
            plan = self._build(name, offset, numel, device)
            self._plans[cache_key] = plan
            self._cache_left -= numel
        key = name_key(self.seed, name)
        for start in range(0, numel, CHUNK):
            stop = min(numel, start + CHUNK)
            if plan is not None:
                yield start, stop, plan[start:stop]
            else:
                yield start, stop, codes(key, offset + start, stop - start, self.dim)

    def _build(self, name: str, offset: int, numel: int, device: str) -> Any:
        key = name_key(self.seed, name)
        plan = np.empty(numel, dtype=np.int32)
        for start in range(0, numel, CHUNK):
            stop = min(numel, start + CHUNK)
            plan[start:stop] = codes(key, offset + start, stop - start, self.dim)
        if device == "cpu":
            return plan
        torch = sys.modules["torch"]
        return torch.from_numpy(plan).to(device)

    def _finish(self, accs: dict[Any, Any]) -> np.ndarray:
        """Fold the per-device (bucket, sign) accumulators into one float64 sketch."""
        total = np.zeros(self.dim)
        for acc in accs.values():
            signed = acc[0::2] - acc[1::2]
            total += signed if isinstance(signed, np.ndarray) else signed.cpu().numpy()
        return total


def _storage_identity(values: Any) -> Any:
    """What makes two tensors the same memory: data pointer, dtype, shape and strides."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values, torch.Tensor) and values.numel():
        layout = (values.data_ptr(), values.dtype, tuple(values.shape), values.stride())
        return (str(values.device), *layout)
    if isinstance(values, np.ndarray) and values.size:
        data = values.__array_interface__["data"][0]
        return ("numpy", data, values.dtype.str, values.shape, values.strides)
    return ("object", id(values))


def _mix_int(z: int) -> int:
    """splitmix64's finaliser on a Python int."""
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    return z ^ (z >> 31)
