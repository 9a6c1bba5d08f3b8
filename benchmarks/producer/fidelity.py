"""Benchmark d: edge ratio and index of sketched versus exact spectra, ours vs dense Gaussian.

    python -m benchmarks.producer.fidelity [--windows 100] [--dims ...]

Per input type, d and operator (the default `countsketch-srht`, plain `countsketch`, the dense
Gaussian), over 3 operator seeds: the rate at
which the sketched window's edge index (argmax of sigma_k / sigma_k+1) equals the exact one, and
the mean and max relative error of the edge ratio. W = 10. The smallest d whose weak-edge rate is
>= 99 % on every synthetic type is printed as the suggested default.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.producer.windows import synthetic, training_snapshots
from producer.dense import DenseGaussian
from producer.shards import flat_slice_pieces
from producer.sketch import METHODS, CountSketch

WIDTH, SEEDS = 10, (0, 1, 2)


def edge(rows: np.ndarray) -> tuple[int, float]:
    """(k*, sigma_k* / sigma_k*+1) of a W x n window by the plain argmax rule."""
    eigen = np.clip(np.linalg.eigvalsh(rows @ rows.T)[::-1], 0, None)
    sigma = np.sqrt(eigen)
    ratios = sigma[:-1] / np.maximum(sigma[1:], 1e-300)
    k = int(np.argmax(ratios))
    return k + 1, float(ratios[k])


def sketch_rows(operator: str, dim: int, seed: int, rows: np.ndarray, layout: list) -> np.ndarray:
    """Sketch each row (a flat parameter vector laid out as `layout`) with one operator."""
    if operator == "dense":
        return DenseGaussian(dim, seed).sketch_rows("theta", rows)
    sketch = CountSketch(dim, seed, method=operator)
    if layout:
        return np.stack([sketch.sketch_pieces(flat_slice_pieces(layout, 0, row)) for row in rows])
    return np.stack([sketch.sketch("theta", row) for row in rows])


def score(exact: list, sketched: list) -> tuple[float, float, float]:
    """(edge-index hit rate, mean and max relative error of the edge ratio)."""
    hits = np.mean([e[0] == s[0] for e, s in zip(exact, sketched, strict=True)])
    errors = [abs(s[1] - e[1]) / e[1] for e, s in zip(exact, sketched, strict=True)]
    return float(hits), float(np.mean(errors)), float(np.max(errors))


Windows = tuple[np.ndarray, list[range], list[tuple[int, float]], list]


def windows_of(kind: str, count: int, size: int, seed: int) -> Windows:
    """(update rows, the rows of each window, exact edges, parameter layout) for one input."""
    if kind == "training":
        snapshots, layout = training_snapshots(steps=10 * (count + WIDTH), every=10)
        updates = np.diff(snapshots, axis=0)
        spans = [range(i, i + WIDTH) for i in range(len(updates) - WIDTH + 1)]
    else:
        stack, _ = synthetic(kind, count, size, WIDTH, seed)
        updates, layout = stack.reshape(-1, size), []
        spans = [range(i * WIDTH, (i + 1) * WIDTH) for i in range(count)]
    return updates, spans, [edge(updates[span]) for span in spans], layout


def run(
    kinds: list, dims: list, operators: list, count: int, size: int, training_windows: int
) -> dict:
    results = {}
    for kind in kinds:
        if kind == "training":  # one real run, sketched with each operator seed
            data = [windows_of(kind, training_windows, size, 0)] * len(SEEDS)
        else:
            data = [windows_of(kind, count, size, seed) for seed in SEEDS]
        for dim in dims:
            for operator in operators:
                exact, sketched = [], []
                for seed, (updates, spans, edges, layout) in zip(SEEDS, data, strict=True):
                    rows = sketch_rows(operator, dim, seed, updates, layout)
                    sketched += [edge(rows[span]) for span in spans]
                    exact += edges
                results[kind, dim, operator] = score(exact, sketched)
                hit, mean, worst = results[kind, dim, operator]
                print(f"{kind:9s} d={dim:<5d} {operator:16s} found {hit * 100:6.1f} %  "
                      f"ratio error mean {mean * 100:5.2f} %  max {worst * 100:6.2f} %",
                      flush=True)  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["dense", "heavy", "strided", "training"])
    parser.add_argument("--dims", type=int, nargs="+", default=[50, 100, 200, 400, 1000])
    parser.add_argument("--windows", type=int, default=100, help="synthetic windows per seed")
    parser.add_argument("--size", type=int, default=16384, help="parameters per synthetic window")
    parser.add_argument("--training-windows", type=int, default=60)
    parser.add_argument("--operators", nargs="+", default=[*METHODS, "dense"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the training run")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    results = run(options.kinds, options.dims, options.operators, options.windows, options.size,
                  options.training_windows)  # fmt: skip
    weak = [k for k in options.kinds if k != "training"]
    for operator in options.operators:
        good = [d for d in options.dims if all(results[k, d, operator][0] >= 0.99 for k in weak)]
        print(f"{operator}: smallest d with the weak edge found >= 99 % on every synthetic type: "
              f"{good[0] if good else 'none'}")  # fmt: skip


if __name__ == "__main__":
    main()
