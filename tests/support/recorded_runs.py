"""Synthetic recorded runs in the shape `benchmarks/grokking/collect.py` saves them."""

from __future__ import annotations

from typing import Any


def recorded_run(
    run_id: str,
    condition: str,
    edge: list[float],
    test_acc: list[float],
    test_loss: list[float] | None = None,
    train_acc: list[float] | None = None,
    family: str = "modular",
    seed: int = 0,
    every: int = 10,
) -> dict[str, Any]:
    """A run with one window record per `every` steps (series `10`) and one evaluation per 50."""
    n = len(test_acc)
    loss = test_loss or [1.0] * n
    train = train_acc or [1.0] * n
    records = [
        {"index": i, "step": every * (i + 1), "edge_ratio": e, "g23": e / 2, "k_star": 1}
        for i, e in enumerate(edge)
    ]
    evaluations = [
        {
            "step": 50 * (i + 1),
            "train_acc": train[i],
            "test_acc": test_acc[i],
            "test_loss": loss[i],
            "param_norm": 100.0 - i,
        }
        for i in range(n)
    ]
    return {
        "run_id": run_id,
        "spec": {
            "family": family,
            "condition": condition,
            "seed": seed,
            "task": "modular-add",
            "options": {},
        },
        "steps": 50 * n,
        "records": {"10": records},
        "evaluations": evaluations,
        "defects": [],
        "alerts": [],
        "train_seconds": 1.0,
    }
