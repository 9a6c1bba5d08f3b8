"""Benchmark a: CountSketch throughput on the CPU against torch.sum over the same tensors.

    python -m benchmarks.producer.throughput [--sizes 10e6 100e6]

For each size P (fp32 parameters, one tensor), measured round-robin in one run: torch.sum (the
read-bandwidth limit), the default operator (`countsketch-srht`: native kernel into 4096 buckets
and the Hadamard mix), the plain `countsketch` (d buckets), the pure numpy/torch path of the
default (same sketch), and at P = 10M the chunked dense Gaussian at d = 100; then the default at
d = 64, 100 and 4096.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch

from benchmarks.producer.timing import interleaved, median_seconds
from producer import kernel
from producer.dense import DenseGaussian
from producer.sketch import CountSketch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[10e6, 100e6])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dense-size", type=float, default=10e6)
    options = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"threads {threads}  native kernel {'yes' if kernel.load() else 'no'}")
    for size in options.sizes:
        report(int(size), options.repeats, threads, int(size) == int(options.dense_size))


def report(size: int, repeats: int, threads: int, with_dense: bool) -> None:
    values = torch.randn(size, generator=torch.Generator().manual_seed(0))
    fast, pure = CountSketch(256), CountSketch(256, native=False)
    plain = CountSketch(256, method="countsketch")
    times = interleaved(
        {
            "torch.sum": lambda: values.sum(),
            "kernel d=256": lambda: fast.sketch("w", values),
            "plain d=256": lambda: plain.sketch("w", values),
            "pure d=256": lambda: pure.sketch("w", values),
        },
        repeats,
    )
    sketches = {dim: CountSketch(dim) for dim in (64, 100, 4096)}
    by_dim = interleaved(
        {dim: partial(sketch.sketch, "w", values) for dim, sketch in sketches.items()}, repeats
    )
    print(f"\nP = {size:,} fp32, {threads} thread(s), median of {repeats}")
    for name, seconds in times.items():
        ratio = times["torch.sum"] / seconds
        print(f"  {name:14s} {seconds * 1e3:9.1f} ms  {seconds / size * 1e9:6.3f} ns/elem  "
              f"sum/this {ratio:6.3f}")  # fmt: skip
    for dim, seconds in by_dim.items():
        print(f"  kernel d={dim:<5d} {seconds * 1e3:9.1f} ms")
    print(f"  d=4096 / d=64 time: {by_dim[4096] / by_dim[64]:.3f}")
    if with_dense:
        dense = DenseGaussian(100)
        seconds = median_seconds(lambda: dense.sketch("w", values), repeats=1, warmup=0)
        print(f"  dense Gaussian d=100 {seconds:8.2f} s   dense / kernel(d=100) "
              f"{seconds / by_dim[100]:8.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
