"""Driving the native kernel over one flat CPU buffer: dtype handling and a thread split.

float32, float64 and bfloat16 buffers are read in place; other dtypes (float16, integers) are
converted to float32/float64 a chunk at a time, so no full-size copy is made. Buffers of at least
`PARALLEL_MIN` elements are cut into one contiguous range per thread, each with its own
accumulator (ctypes drops the GIL during the call), and the accumulators are added at the end.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from producer.kernel import Kernel

PARALLEL_MIN = 1 << 18
CONVERT_CHUNK = 1 << 20
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def split_run(
    kernel: Kernel, flat: Any, key: int, offset: int, dim: int, acc: np.ndarray, threads: int
) -> None:
    """Add the sketch of `flat` (numpy array or CPU tensor, 1-D, contiguous) at `offset` to acc."""
    flat = _contiguous(flat)
    dtype, pointer, itemsize, n = _buffer(flat)
    if dtype is None:
        for start in range(0, n, CONVERT_CHUNK):
            chunk = _converted(flat[start : start + CONVERT_CHUNK])
            split_run(kernel, chunk, key, offset + start, dim, acc, threads)
        return
    workers = min(_threads(threads), max(1, n // PARALLEL_MIN))
    if workers == 1:
        kernel.run(dtype, pointer, n, key, offset, dim, acc.ctypes.data)
        return
    bounds = [n * part // workers for part in range(workers + 1)]
    extra = [np.zeros_like(acc) for _ in range(workers - 1)]
    pool = _executor(workers - 1)
    futures = []
    for a, b, scratch in zip(bounds[1:-1], bounds[2:], extra, strict=True):
        args = (dtype, pointer + a * itemsize, b - a, key, offset + a, dim, scratch.ctypes.data)
        futures.append(pool.submit(kernel.run, *args))
    kernel.run(dtype, pointer, bounds[1], key, offset, dim, acc.ctypes.data)
    for future, scratch in zip(futures, extra, strict=True):
        future.result()
        acc += scratch


def _buffer(flat: Any) -> tuple[str | None, int, int, int]:
    """(kernel dtype or None, data pointer, item size, element count) of a flat buffer."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(flat, torch.Tensor):
        name = str(flat.dtype).removeprefix("torch.")
        known = name if name in ("float32", "float64", "bfloat16") else None
        return known, flat.data_ptr(), flat.element_size(), flat.numel()
    known = flat.dtype.name if flat.dtype.name in ("float32", "float64") else None
    return known, flat.ctypes.data, flat.itemsize, flat.size


def _contiguous(flat: Any) -> Any:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(flat, torch.Tensor):
        return flat if flat.is_contiguous() else flat.contiguous()
    return np.ascontiguousarray(flat)


def _converted(chunk: Any) -> Any:
    """A float32 (float16 input) or float64 (anything else) contiguous copy of one chunk."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(chunk, torch.Tensor):
        wide = torch.float32 if chunk.dtype == torch.float16 else torch.float64
        return chunk.to(wide).contiguous()
    wide = np.float32 if chunk.dtype == np.float16 else np.float64
    return np.ascontiguousarray(chunk, dtype=wide)


def _threads(requested: int) -> int:
    if requested > 0:
        return requested
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else os.cpu_count() or 1


def _executor(size: int) -> ThreadPoolExecutor:
    """A shared pool of at least `size` worker threads (grown, never shrunk)."""
    global _pool, _pool_size
    if _pool is None or _pool_size < size:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(size, thread_name_prefix="spectral-edge-sketch")
        _pool_size = size
    return _pool
