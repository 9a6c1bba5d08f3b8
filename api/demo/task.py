"""Modular arithmetic, the classic grokking task: predict (a + b) mod p from `a + b =`."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Split:
    """Inputs (n x 4 tokens: a, op, b, eq) and targets of one split."""

    inputs: torch.Tensor
    targets: torch.Tensor


def modular_addition(
    p: int = 97, train_fraction: float = 0.5, seed: int = 0
) -> tuple[Split, Split]:
    """All p*p pairs, shuffled by `seed` and split into disjoint train and test sets.

    The vocabulary is 0..p-1 for numbers, p for the operator and p+1 for the equals sign.
    """
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
    inputs = torch.stack([a, torch.full_like(a, p), b, torch.full_like(a, p + 1)], dim=1)
    targets = (a + b) % p
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))
    cut = int(train_fraction * p * p)
    train, test = order[:cut], order[cut:]
    return Split(inputs[train], targets[train]), Split(inputs[test], targets[test])
