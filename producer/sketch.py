"""CountSketch: a linear, seeded, shard-invariant map from parameters to R^d.

Element i of parameter `name` goes to one bucket with one sign, both from the splitmix64 hash of
(seed, name, global index i) in `producer.hashing`, so E[S^T S] = I and the sketch of a tensor
equals the sum of the sketches of its shards at their global offsets. Sums are float64. CPU tensors
go through the fused native kernel (`producer.kernel`) split over threads when it is available,
else through numpy `bincount` / torch `index_add_` over chunked (bucket, sign) codes, whose plans
are cached for small tensors. CUDA tensors hash on the device with int64 tensor ops.
Method `countsketch` hashes straight into d buckets; `countsketch-srht` hashes into m >= 4096
buckets and mixes them down to d with `producer.srht` (robust to heavy-tailed updates).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from producer import kernel
from producer.hashing import codes, codes_torch, name_key
from producer.parallel import split_run
from producer.srht import SRHT, buckets_for

CHUNK = 1 << 18
CACHE_ELEMENTS = 1 << 22
METHODS = ("countsketch", "countsketch-srht")
Piece = tuple[str, Any, int]


class CountSketch:
    """`sketch(name, values, offset)` -> float64 vector of length `dim`, with no P x d matrix.

    `native=None` (or True) uses the C kernel when it loads, built into `cache_dir` (None: the
    kernel's default), `False` never; `threads=0` means torch's intra-op thread count (or the CPU
    count without torch); `method` is one of METHODS.
    """

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        *,
        cache_elements: int = CACHE_ELEMENTS,
        native: bool | None = None,
        cache_dir: str | None = None,
        threads: int = 0,
        method: str = "countsketch-srht",
    ) -> None:
        if not 1 <= dim <= 1 << 16:
            raise ValueError(f"dim must be in [1, 65536], got {dim}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        self.dim, self.seed, self.threads, self.method = dim, seed, threads, method
        mixed = method == "countsketch-srht"
        self.buckets = buckets_for(dim) if mixed else dim
        self._mix = SRHT(self.buckets, dim, seed) if mixed else None
        self.kernel = kernel.load(native is not False, cache_dir)
        self._cache_left = cache_elements
        self._plans: dict[tuple[str, int, int, str], Any] = {}

    def sketch(self, name: str, values: Any, offset: int = 0) -> np.ndarray:
        """Sketch one tensor (or shard) whose first element has global flat index `offset`."""
        return self.sketch_pieces([(name, values, offset)])

    def sketch_pieces(self, pieces: Iterable[Piece]) -> np.ndarray:
        """Sum of the sketches of (name, values, global offset) pieces."""
        accs: dict[Any, Any] = {}
        for name, values, offset in pieces:
            self._accumulate(name, values, offset, accs)
        return self._finish(accs)

    def sketch_parameters(self, named: Iterable[tuple[str, Any]]) -> np.ndarray:
        """Sum of the sketches of named tensors, each tied tensor counted once (its first name).

        The tensors stay referenced until the call returns, so no address is reused meanwhile.
        """
        seen: dict[Any, Any] = {}
        pieces: list[Piece] = []
        for name, values in named:
            identity = storage_identity(values)
            if identity not in seen:
                seen[identity] = values
                pieces.append((name, values, 0))
        return self.sketch_pieces(pieces)

    def _accumulate(self, name: str, values: Any, offset: int, accs: dict[Any, Any]) -> None:
        torch = sys.modules.get("torch")
        is_tensor = torch is not None and isinstance(values, torch.Tensor)
        if values.is_complex() if is_tensor else np.iscomplexobj(values):
            raise TypeError(f"cannot sketch complex values of {name!r}")
        on_cpu = not is_tensor or values.device.type == "cpu"
        if self.kernel is not None and on_cpu:
            flat = values.detach().reshape(-1) if is_tensor else _flat_array(values)
            acc = accs.setdefault("native", np.zeros(self.buckets))
            key = name_key(self.seed, name)
            split_run(self.kernel, flat, key, offset, self.buckets, acc, self.threads)
        elif is_tensor:
            self._accumulate_torch(torch, name, values, offset, accs)
        else:
            flat = _flat_array(values)
            acc = accs.setdefault("numpy", np.zeros(2 * self.buckets))
            for start, stop, plan in self._plan(name, offset, flat.size, "cpu"):
                weights = flat[start:stop].astype(np.float64, copy=False)
                acc += np.bincount(plan, weights=weights, minlength=2 * self.buckets)

    def _accumulate_torch(
        self, torch: Any, name: str, values: Any, offset: int, accs: dict[Any, Any]
    ) -> None:
        flat = values.detach().reshape(-1)
        device = flat.device
        acc = accs.get(device)
        if acc is None:
            acc = torch.zeros(2 * self.buckets, dtype=torch.float64, device=device)
            accs[device] = acc
        for start, stop, plan in self._plan(name, offset, flat.numel(), str(device)):
            index = torch.from_numpy(plan) if isinstance(plan, np.ndarray) else plan
            acc.index_add_(0, index, flat[start:stop].to(torch.float64))

    def _plan(
        self, name: str, offset: int, numel: int, device: str
    ) -> Iterator[tuple[int, int, Any]]:
        """Yield (start, stop, codes) chunks of the plan, from the cache when it fits there."""
        cache_key = (name, offset, numel, device)
        plan = self._plans.get(cache_key)
        if plan is None and 0 < numel <= self._cache_left:
            plan = self._codes(name, offset, numel, device)
            self._plans[cache_key] = plan
            self._cache_left -= numel
        for start in range(0, numel, CHUNK):
            stop = min(numel, start + CHUNK)
            if plan is not None:
                yield start, stop, plan[start:stop]
            else:
                yield start, stop, self._codes(name, offset + start, stop - start, device)

    def _codes(self, name: str, start: int, count: int, device: str) -> Any:
        key = name_key(self.seed, name)
        if device == "cpu":
            return codes(key, start, count, self.buckets)
        return codes_torch(sys.modules["torch"], key, start, count, self.buckets, device)

    def _finish(self, accs: dict[Any, Any]) -> np.ndarray:
        """Fold the per-device accumulators into one float64 sketch (mixed down for SRHT)."""
        total = np.zeros(self.buckets)
        for where, acc in accs.items():
            if where == "native":
                total += acc
                continue
            signed = acc[0::2] - acc[1::2]
            total += signed if isinstance(signed, np.ndarray) else signed.cpu().numpy()
        return total if self._mix is None else self._mix(total)


def storage_identity(values: Any) -> Any:
    """What makes two tensors the same memory: data pointer, dtype, shape and strides."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values, torch.Tensor) and values.numel():
        layout = (values.data_ptr(), values.dtype, tuple(values.shape), values.stride())
        return (str(values.device), *layout)
    if isinstance(values, np.ndarray) and values.size:
        data = values.__array_interface__["data"][0]
        return ("numpy", data, values.dtype.str, values.shape, values.strides)
    return ("object", id(values))


def _flat_array(values: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values).reshape(-1))
