"""Framework metric names to the scalar names the analyzer understands (`val_loss`, `lr`, ...)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

RENAMES = {
    "loss": "train_loss",
    "train_loss": "train_loss",
    "learning_rate": "lr",
    "eval_loss": "val_loss",
    "eval_accuracy": "val_acc",
    "val_accuracy": "val_acc",
    "test_accuracy": "test_acc",
}
_SKIP = ("runtime", "samples_per_second", "steps_per_second", "epoch", "total_flos", "grad_norm")


def scalar_name(name: str) -> str | None:
    """The analyzer's name for a framework metric, or None for throughput and bookkeeping."""
    if any(part in name for part in _SKIP):
        return None
    if name in RENAMES:
        return RENAMES[name]
    if name.startswith("eval_"):
        return "val_" + name.removeprefix("eval_")
    return name


def scalars_from(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Finite numeric metrics (plain numbers or one-element tensors) under the analyzer's names."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        renamed = scalar_name(name)
        try:
            number = float(value)
        except (TypeError, ValueError, RuntimeError):
            continue
        if renamed is not None and math.isfinite(number):
            out[renamed] = number
    return out
