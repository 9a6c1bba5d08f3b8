"""Framework metric names map to the analyzer's scalar names; non-numbers are left out."""

from __future__ import annotations

import torch

from producer.integrations.scalars import scalars_from


def test_renames_and_filters() -> None:
    logs = {
        "loss": 1.5,
        "learning_rate": torch.tensor(1e-3),
        "eval_loss": 0.5,
        "eval_accuracy": 0.75,
        "eval_f1": 0.25,
        "eval_runtime": 3.0,
        "grad_norm": 2.0,
        "epoch": 1.0,
        "note": "text",
        "val_acc": float("nan"),
    }
    assert scalars_from(logs) == {
        "train_loss": 1.5,
        "lr": torch.tensor(1e-3).item(),
        "val_loss": 0.5,
        "val_acc": 0.75,
        "val_f1": 0.25,
    }
