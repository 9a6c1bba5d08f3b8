"""Throughput of the spectral core: every window metric against the bare batched eigvalsh.

Run (heavy CPU, so under the shared lock):
    python -m benchmarks.spectral.bench_core
For W in {10, 20, 30} and d in {100, 1000}, N = 1,000 windows (one per run) are evaluated from
their stacked Gram matrices: `bare` is np.linalg.eigvalsh alone, `metrics` is
spectrum.batch_metrics with direction stability (cross Grams and previous tops), `+records`
adds the conversion to WindowMetrics, `+updates` passes the updates for the exactness check.
BLAS is pinned to one thread, so windows/s are per core. Each figure is the median of
--repeats runs, all in this one process, side by side. The last columns time one
RollingGram.push against recomputing the W x W Gram from the W x d window.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from analyzer import spectrum  # noqa: E402
from analyzer.core.gram import RollingGram  # noqa: E402


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def batch_inputs(rng: np.random.Generator, n: int, w: int, d: int) -> dict[str, np.ndarray]:
    """Grams, cross Grams, previous tops and updates of n windows with a drifting direction."""
    drift = rng.normal(size=(n, 1, d))
    ext = drift * rng.uniform(0.5, 2.0, size=(n, w + 1, 1)) + rng.normal(size=(n, w + 1, d))
    gram_ext = ext @ ext.transpose(0, 2, 1)
    previous = spectrum.batch_metrics(np.ascontiguousarray(gram_ext[:, :-1, :-1])).top
    return {
        "grams": np.ascontiguousarray(gram_ext[:, 1:, 1:]),
        "cross": np.ascontiguousarray(gram_ext[:, :-1, 1:]),
        "previous": previous,
        "updates": np.ascontiguousarray(ext[:, 1:]),
    }


def push_vs_recompute(
    rng: np.random.Generator, w: int, d: int, repeats: int
) -> tuple[float, float]:
    """Microseconds per RollingGram.push and per from-scratch W x W Gram of a W x d window."""
    updates = rng.normal(size=(200, d))
    rg = RollingGram(w, d)

    def push_all() -> None:
        for u in updates:
            rg.push(u)

    window = updates[:w]
    push = median_seconds(push_all, repeats) / updates.shape[0]
    scratch = median_seconds(lambda: window @ window.T, repeats * 20)
    return push * 1e6, scratch * 1e6


def main() -> None:
    """Print one row per (W, d): windows/s of each variant and the ratio to bare eigvalsh."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    threads = os.environ["OPENBLAS_NUM_THREADS"]
    print(f"N = {args.runs} windows per batch, median of {args.repeats}, BLAS threads {threads}")
    print(
        f"{'W':>3} {'d':>5} {'bare w/s':>10} {'metrics w/s':>12} {'ratio':>6} "
        f"{'+records':>9} {'ratio':>6} {'+updates':>9} {'ratio':>6} {'push us':>8} {'UUt us':>7}"
    )
    for w in (10, 20, 30):
        for d in (100, 1000):
            x = batch_inputs(rng, args.runs, w, d)
            direction = {"cross": x["cross"], "previous": x["previous"]}
            bare = median_seconds(lambda x=x: np.linalg.eigvalsh(x["grams"]), args.repeats)
            full = median_seconds(
                lambda x=x, k=direction: spectrum.batch_metrics(x["grams"], **k), args.repeats
            )
            records = median_seconds(
                lambda x=x, k=direction: spectrum.batch_metrics(x["grams"], **k).rows(),
                args.repeats,
            )
            exact = median_seconds(
                lambda x=x, k=direction: spectrum.batch_metrics(
                    x["grams"], updates=x["updates"], **k
                ),
                args.repeats,
            )
            push, scratch = push_vs_recompute(rng, w, d, args.repeats)
            rate = [args.runs / t for t in (bare, full, records, exact)]
            print(
                f"{w:>3} {d:>5} {rate[0]:>10.0f} {rate[1]:>12.0f} {rate[1] / rate[0]:>6.2f} "
                f"{rate[2]:>9.0f} {rate[2] / rate[0]:>6.2f} {rate[3]:>9.0f} "
                f"{rate[3] / rate[0]:>6.2f} {push:>8.1f} {scratch:>7.1f}"
            )


if __name__ == "__main__":
    main()
