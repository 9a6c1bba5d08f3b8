"""The native kernel against the pure numpy/torch path: same hash, same sketch, same fallbacks.

Whether it is used and where it is built come from the configuration (`native`, `cache_dir`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import producer
from producer import kernel
from producer.config import resolve_config
from producer.hashing import codes, codes_torch, name_key
from producer.hooks import sketch_for
from producer.parallel import PARALLEL_MIN
from producer.sketch import CountSketch
from tests.producer.conftest import tiny_model

needs_kernel = pytest.mark.skipif(kernel.load() is None, reason="no C compiler for the kernel")


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


@pytest.fixture
def fresh_kernel() -> Iterator[None]:
    """Forget the loaded kernel before and after a test that changes how it loads."""
    kernel.load.cache_clear()
    yield
    kernel.load.cache_clear()


@pytest.mark.parametrize("start", [0, 17, 2**40 + 3])
def test_torch_int64_hash_equals_numpy_hash(start: int) -> None:
    key = name_key(7, "blocks.0.attn.weight")
    expected = codes(key, start, 5000, 300)
    got = codes_torch(torch, key, start, 5000, 300, "cpu").numpy()
    assert np.array_equal(got, expected)


@needs_kernel
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.int32]
)
def test_kernel_equals_pure_torch_path(dtype: torch.dtype) -> None:
    values = (torch.randn(70_001, generator=torch.Generator().manual_seed(1)) * 50).to(dtype)
    fast = CountSketch(256, seed=3).sketch("w", values, offset=12345)
    pure = CountSketch(256, seed=3, native=False).sketch("w", values, offset=12345)
    assert rel(fast, pure) <= 1e-12


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
def test_kernel_equals_pure_numpy_path(dtype: type) -> None:
    values = (np.random.default_rng(2).standard_normal(50_000) * 50).astype(dtype)
    fast = CountSketch(4096, seed=5).sketch("v", values, offset=9)
    pure = CountSketch(4096, seed=5, native=False).sketch("v", values, offset=9)
    assert rel(fast, pure) <= 1e-12


@needs_kernel
def test_thread_split_equals_one_thread() -> None:
    values = torch.randn(3 * PARALLEL_MIN + 1001, generator=torch.Generator().manual_seed(3))
    one = CountSketch(128, seed=1, threads=1).sketch("w", values, offset=5)
    three = CountSketch(128, seed=1, threads=3).sketch("w", values, offset=5)
    pure = CountSketch(128, seed=1, native=False).sketch("w", values, offset=5)
    assert rel(three, one) <= 1e-12 and rel(one, pure) <= 1e-12


@needs_kernel
def test_strided_and_transposed_tensors() -> None:
    base = torch.randn(200, 90, generator=torch.Generator().manual_seed(4))
    sketch = CountSketch(64, seed=2)
    assert rel(sketch.sketch("s", base[:, ::3]), sketch.sketch("s", base[:, ::3].clone())) <= 1e-12
    assert rel(sketch.sketch("t", base.T), sketch.sketch("t", base.T.contiguous())) <= 1e-12
    flat = base.reshape(-1)[::7]
    assert rel(sketch.sketch("f", flat), sketch.sketch("f", flat.clone())) <= 1e-12


def test_switched_off_by_the_configuration() -> None:
    config = resolve_config({"SPECTRAL_EDGE_NATIVE": "0"})
    assert config.native is False
    assert kernel.load(config.native, config.cache_dir) is None
    assert CountSketch(16, native=config.native).kernel is None
    assert sketch_for(config).kernel is None


def test_watch_threads_the_environment_to_its_sketch(tmp_path: Path) -> None:
    model, optimizer = tiny_model()
    env = {"SPECTRAL_EDGE_NATIVE": "off", "SPECTRAL_EDGE_SPOOL_DIR": str(tmp_path)}
    watched = producer.watch(model, optimizer, mode="offline", env=env)
    assert watched._snapshotter is not None
    assert watched._snapshotter.sketch.kernel is None
    watched.close()


@needs_kernel
def test_the_process_environment_is_not_read_by_the_kernel(
    fresh_kernel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPECTRAL_EDGE_NATIVE", "0")
    monkeypatch.setenv("SPECTRAL_EDGE_CACHE_DIR", str(tmp_path / "unused"))
    assert kernel.load(cache_dir=str(tmp_path / "cache")) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]


def test_without_a_compiler_the_pure_path_gives_the_same_sketch(
    fresh_kernel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    values = np.random.default_rng(5).standard_normal(10_000)
    reference = CountSketch(32, seed=4, native=False).sketch("w", values)
    cache = str(tmp_path / "cache")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    assert kernel.load(cache_dir=cache) is None
    sketch = CountSketch(32, seed=4, cache_dir=cache)
    assert sketch.kernel is None
    assert np.array_equal(sketch.sketch("w", values), reference)


@needs_kernel
def test_kernel_builds_into_an_empty_cache(fresh_kernel: None, tmp_path: Path) -> None:
    config = resolve_config({"SPECTRAL_EDGE_CACHE_DIR": str(tmp_path)})
    assert kernel.load(config.native, config.cache_dir) is not None
    assert [p.suffix for p in tmp_path.iterdir()] == [".so"]
    assert sketch_for(config).kernel is kernel.load(config.native, config.cache_dir)
