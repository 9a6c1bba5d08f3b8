"""JL fidelity of sketched spectra: edge-index hit rate and ratio errors against the exact ones.

Run: python -m benchmarks.spectral.bench_fidelity
Windows of W = 10 updates of P = 4096 parameters with a planted spectrum: a clear edge (ratio 4
at k = 2) or a weak one (1.5 at k = 2 against a runner-up of 1.18), random singular vectors.
Each window is sketched to d dimensions by the producer's CountSketch and by a dense Gaussian
matrix (the fidelity reference), then `analyzer.core.fidelity.compare` against the planted spectrum
(weighted rule), over --seeds seeds x --windows windows per (edge, d).
"""

from __future__ import annotations

import argparse

import numpy as np

from analyzer.core import fidelity
from producer.sketch import CountSketch

W, P = 10, 4096
SPECTRA = {
    "clear": np.array([8.0, 6.0, 1.5, 1.4, 1.3, 1.25, 1.2, 1.15, 1.1, 1.05]),
    "weak": np.array([5.5, 5.0, 5.0 / 1.5, 5.0 / 1.5 / 1.18, 2.6, 2.45, 2.3, 2.2, 2.1, 2.0]),
}


def planted(rng: np.random.Generator, sigma: np.ndarray, n: int) -> np.ndarray:
    """n windows (n, W, P) with singular values `sigma` and random singular vectors."""
    left = np.linalg.qr(rng.normal(size=(n, W, W)))[0]
    right = np.linalg.qr(rng.normal(size=(n, P, W)))[0]
    return (left * sigma) @ right.transpose(0, 2, 1)


def sketched(windows: np.ndarray, d: int, seed: int, method: str) -> np.ndarray:
    """The windows' rows sketched to d dimensions (n, W, d)."""
    if method == "gaussian":
        matrix = np.random.default_rng(seed + 10_000).normal(size=(P, d)) / np.sqrt(d)
        return windows @ matrix
    operator = CountSketch(d, seed=seed)
    rows = [operator.sketch("layer.weight", row) for row in windows.reshape(-1, P)]
    return np.array(rows).reshape(windows.shape[0], W, d)


def main() -> None:
    """Print hit rate and mean/max relative ratio errors per (edge, d, sketch)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--windows", type=int, default=40)
    args = parser.parse_args()
    print(f"W={W}, P={P}, {args.seeds} seeds x {args.windows} windows, weighted rule")
    head = f"{'edge':<6} {'d':>5} {'sketch':<12} {'hit':>6} {'ratio err':>10} {'max':>7}"
    print(f"{head} {'edge err':>9} {'max':>7}")
    for edge, sigma in SPECTRA.items():
        for d in (50, 100, 200, 500, 1000):
            for method in ("countsketch", "gaussian"):
                results = []
                for seed in range(args.seeds):
                    rng = np.random.default_rng(seed)
                    windows = planted(rng, sigma, args.windows)
                    exact = np.broadcast_to(sigma, (args.windows, W))
                    got = fidelity.spectra(sketched(windows, d, seed, method))
                    results.append(fidelity.compare(got, exact))
                s = fidelity.Fidelity(
                    np.concatenate([r.ratio_error for r in results]),
                    np.concatenate([r.edge_ratio_error for r in results]),
                    np.concatenate([r.edge_hit for r in results]),
                ).summary()
                print(
                    f"{edge:<6} {d:>5} {method:<12} {s['edge_hit_rate']:>6.3f} "
                    f"{s['ratio_error_mean']:>10.4f} {s['ratio_error_max']:>7.3f} "
                    f"{s['edge_ratio_error_mean']:>9.4f} {s['edge_ratio_error_max']:>7.3f}"
                )


if __name__ == "__main__":
    main()
