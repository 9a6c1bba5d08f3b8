"""Worst observed sigma error of each route against numpy's SVD, per kind of window.

Run: python -m benchmarks.spectral.accuracy [--windows 2000]
Error of a window: max_k |sigma_k - svd_k| / max(svd_k, RATIO_FLOOR * svd_1) (relative, and
relative to sigma_1 for values below the ratio floor). Routes: `window_metrics` (SVD of U),
`batch+updates` (stacked eigvalsh, SVD refinement of steep rows), `gram only` (eigvalsh of G;
tiny values are limited by squaring), and a RollingGram fed update by update.
"""

from __future__ import annotations

import argparse

import numpy as np

from analyzer.core import spectrum
from analyzer.core.gram import RollingGram


def window(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One W x d window of the given kind."""
    w, d = int(rng.integers(2, 31)), int(rng.integers(1, 65))
    if kind == "random":
        return rng.normal(size=(w, d)) * 10.0 ** rng.integers(-50, 50)
    if kind == "rank_deficient":
        rank = int(rng.integers(1, max(2, min(w, d))))
        return rng.normal(size=(w, rank)) @ rng.normal(size=(rank, d))
    if kind == "zero":
        u = rng.normal(size=(w, d))
        u[rng.random(w) < 0.7] = 0.0
        return u
    if kind == "steep":
        left = np.linalg.qr(rng.normal(size=(w, w)))[0]
        return (left * 10.0 ** -np.linspace(0.0, rng.uniform(0, 14), w)) @ rng.normal(size=(w, d))
    return rng.normal(size=(w, d)) * 10.0 ** rng.integers(-100, 100, size=(w, 1))


def error(got: np.ndarray, expected: np.ndarray) -> float:
    """The relative error of the module docstring."""
    if expected[0] == 0.0:
        return float(np.max(np.abs(got)))
    scale = np.maximum(expected, spectrum.RATIO_FLOOR * expected[0])
    return float(np.max(np.abs(got - expected) / scale))


def routes(u: np.ndarray) -> dict[str, np.ndarray]:
    """Sigma of the window by each route."""
    gram = u @ u.T
    rolling = RollingGram(u.shape[0], u.shape[1])
    for row in u:
        rolling.push(row)
    return {
        "window_metrics": np.array(spectrum.window_metrics(u).sigma),
        "batch+updates": spectrum.batch_metrics(gram[None], updates=u[None]).sigma[0],
        "gram only": spectrum.batch_metrics(gram[None]).sigma[0],
        "rolling+updates": spectrum.batch_metrics(
            rolling.gram()[None], updates=rolling.updates()[None]
        ).sigma[0],
    }


def main() -> None:
    """Print the worst error per (kind, route)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    kinds = ("random", "rank_deficient", "zero", "huge_range", "steep")
    names = ("window_metrics", "batch+updates", "rolling+updates", "gram only")
    print(f"worst error over {args.windows} windows per kind (W 2..30, d 1..64)")
    print(f"{'kind':<16}" + "".join(f"{n:>17}" for n in names))
    for kind in kinds:
        worst = dict.fromkeys(names, 0.0)
        for _ in range(args.windows):
            u = window(kind, rng)
            expected = np.zeros(u.shape[0])
            values = np.linalg.svd(u, compute_uv=False)
            expected[: values.size] = values
            for name, got in routes(u).items():
                worst[name] = max(worst[name], error(got, expected))
        print(f"{kind:<16}" + "".join(f"{worst[n]:>17.2e}" for n in names))


if __name__ == "__main__":
    main()
