"""The optional native CountSketch kernel: hash and scatter fused in C, compiled on first use.

The C source below is built with the system C compiler (`$CC`, else `cc`, else `gcc`) into a
cache directory the first time a CPU sketch needs it (about a second, once per machine) and loaded
with ctypes, which releases the GIL, so a large tensor is split over threads. `target_clones`
picks an AVX-512 or AVX2 build at load time, so one cached library is safe on any x86-64 node.
Without a compiler, or with `native=False` (the config's `native`, `SPECTRAL_EDGE_NATIVE=0`),
`load()` returns None and the numpy/torch path is used: same hash (`producer.hashing`), same
sketch up to float64 summation order. Configuration is resolved by `producer.config`, not here.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)
DTYPES = {"float32": 0, "float64": 1, "bfloat16": 2}
SOURCE = r"""
#include <stdint.h>
#include <string.h>
#define GOLDEN 0x9E3779B97F4A7C15ULL
#define MIX1 0xBF58476D1CE4E5B9ULL
#define MIX2 0x94D049BB133111EBULL
#define BLOCK 64
#if defined(__x86_64__) && defined(__GNUC__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CLONES
#endif
static inline uint64_t mix(uint64_t z) {
    z ^= z >> 30; z *= MIX1; z ^= z >> 27; z *= MIX2; return z ^ (z >> 31);
}
static inline double f32(float v) { return (double)v; }
static inline double f64(double v) { return v; }
static inline double bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return (double)f;
}
/* Hash a block of elements (vectorised), then scatter their signed values into acc[dim]. */
#define KERNEL(NAME, TYPE, LOAD) \
CLONES void NAME(const TYPE *x, int64_t n, uint64_t key, uint64_t start, uint64_t dim, \
                 double *acc) { \
    uint32_t bucket[BLOCK]; double signed_x[BLOCK]; \
    for (int64_t base = 0; base < n; base += BLOCK) { \
        int64_t m = n - base < BLOCK ? n - base : BLOCK; \
        uint64_t z0 = (start + (uint64_t)base) * GOLDEN + key; \
        for (int64_t j = 0; j < m; j++) { \
            uint64_t z = mix(z0 + (uint64_t)j * GOLDEN), bits; \
            double v = LOAD(x[base + j]); \
            bucket[j] = (uint32_t)(((z >> 32) * dim) >> 32); \
            memcpy(&bits, &v, 8); bits ^= z << 63; memcpy(&v, &bits, 8); \
            signed_x[j] = v; \
        } \
        for (int64_t j = 0; j < m; j++) acc[bucket[j]] += signed_x[j]; \
    } \
}
KERNEL(se_sketch_f32, float, f32)
KERNEL(se_sketch_f64, double, f64)
KERNEL(se_sketch_bf16, uint16_t, bf16)
"""


class Kernel:
    """The loaded library: `run(dtype, pointer, n, key, start, dim, acc_pointer)`."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._functions = []
        for suffix in ("f32", "f64", "bf16"):
            function = getattr(library, f"se_sketch_{suffix}")
            function.restype = None
            function.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64]
            function.argtypes += [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p]
            self._functions.append(function)

    def run(
        self, dtype: str, pointer: int, n: int, key: int, start: int, dim: int, acc: int
    ) -> None:
        """Add the signed values of n elements at `pointer` into the `dim` doubles at `acc`."""
        self._functions[DTYPES[dtype]](pointer, n, key, start, dim, acc)


@cache
def load(native: bool = True, cache_dir: str | None = None) -> Kernel | None:
    """The compiled kernel, built into `cache_dir` on first use; None when off or unavailable.

    `cache_dir` None means `$XDG_CACHE_HOME/spectral-edge`, else `~/.cache/spectral-edge`.
    """
    if not native:
        return None
    try:
        return Kernel(ctypes.CDLL(str(_library(_cache_dir(cache_dir)))))
    except Exception as exc:
        logger.info("spectral-edge native sketch kernel unavailable (%s); using numpy/torch", exc)
        return None


def _library(directory: Path) -> Path:
    """The shared library cached in `directory`, compiled from SOURCE when missing."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler found")
    tag = hashlib.sha256(f"{SOURCE}{platform.machine()}{compiler}".encode()).hexdigest()[:16]
    target = directory / f"sketch-{tag}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        source = Path(work) / "sketch.c"
        source.write_text(SOURCE)
        built = Path(work) / "sketch.so"
        command = [compiler, "-O3", "-shared", "-fPIC", "-o", str(built), str(source)]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        os.replace(built, target)
    return target


def _cache_dir(explicit: str | None) -> Path:
    """`explicit`, else the XDG cache, else ~/.cache, the last two under `spectral-edge`."""
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spectral-edge"
