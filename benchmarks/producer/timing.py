"""Timing helpers shared by the producer benchmarks: medians over repeats, side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(action: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of `action` over `repeats` runs after `warmup` unmeasured ones."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def interleaved(actions: dict[str, Callable[[], object]], repeats: int = 5) -> dict[str, float]:
    """Median seconds per action, measured round-robin so drift hits every action alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for action in actions.values():
        action()
    for _ in range(repeats):
        for name, action in actions.items():
            began = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}
