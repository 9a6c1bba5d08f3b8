"""Threshold grids per detector, and the choice made on the tuning seeds alone."""

from __future__ import annotations

import itertools

from benchmarks.grokking.scoring import Both, Candidate, Raw, tally


def _grid(kind: str, window: int, **axes: tuple[float, ...]) -> list[Candidate]:
    names = sorted(axes)
    combos = itertools.product(*(axes[n] for n in names))
    return [Candidate(kind, window, tuple(zip(names, combo, strict=True))) for combo in combos]


def candidates(windows: tuple[int, ...]) -> dict[str, list[Candidate]]:
    """Every detector's grid, most conservative setting first (ties keep the first)."""
    grids: dict[str, list[Candidate]] = {}
    for w in windows:
        grids[f"edge_ratio@W{w}"] = _grid(
            "edge_ratio", w, fraction=(0.85, 0.8, 0.75, 0.7, 0.65, 0.6), smooth=(5, 10, 20),
            persist=(3, 10), warmup=(5,),
        )  # fmt: skip
        grids[f"g23@W{w}"] = _grid(
            "g23", w, fraction=(0.3, 0.1, 0.05, 0.02, 0.01), smooth=(5, 10, 20),
            persist=(3, 10), warmup=(5,),
        )  # fmt: skip
        grids[f"k_star@W{w}"] = _grid("k_star", w, persist=(20, 10, 5, 3), baseline=(10,))
        grids[f"collapse@W{w}"] = _grid(
            "collapse", w, collapse_threshold=(1.2, 1.3, 1.45), plateau_min=(1.5,),
            plateau_windows=(3,),
        )  # fmt: skip
    grids["commutator"] = _grid(
        "commutator", 0, factor=(20.0, 10.0, 5.0), floor=(40.0, 20.0, 10.0), baseline=(3,)
    )
    return grids


def choose(grid: list[Candidate], runs: list[Raw]) -> Candidate:
    """The setting with the best (hit rate - false-alarm rate, median lead) on `runs`."""
    best, best_score = grid[0], tally(grid[0], runs).score()
    for candidate in grid[1:]:
        score = tally(candidate, runs).score()
        if score > best_score:
            best, best_score = candidate, score
    return best


class _Cached:
    """A candidate whose alarm steps are computed once per run."""

    def __init__(self, candidate: Candidate) -> None:
        self.candidate = candidate
        self.steps: dict[str, int | None] = {}

    def alarm(self, raw: Raw) -> int | None:
        run = raw["run_id"]
        if run not in self.steps:
            self.steps[run] = self.candidate.alarm(raw)
        return self.steps[run]


def choose_both(window: int, grids: dict[str, list[Candidate]], runs: list[Raw]) -> Both:
    """The (edge ratio, g23) pair at `window` whose joint alarm scores best on `runs`."""
    edges = [_Cached(c) for c in grids[f"edge_ratio@W{window}"]]
    gaps = [_Cached(c) for c in grids[f"g23@W{window}"]]
    best: tuple[tuple[float, float], _Cached, _Cached] | None = None
    for edge, gap in itertools.product(edges, gaps):
        score = tally(Both("", (edge, gap)), runs).score()  # type: ignore[arg-type]
        if best is None or score > best[0]:
            best = (score, edge, gap)
    assert best is not None
    return Both(f"edge_and_g23@W{window}", (best[1].candidate, best[2].candidate))
