"""Modular arithmetic, the classic grokking task: predict (a op b) mod p from `a op b =`."""

from __future__ import annotations

from collections.abc import Callable

import torch

from training.split import Split, Task, cut, permutation

Operation = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

OPERATIONS: dict[str, Operation] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "sq_sum": lambda a, b: a**2 + b**2,
    "sq_cross": lambda a, b: a**2 + a * b + b**2,
    "cube_cross": lambda a, b: a**3 + a * b,
}
"""a+b, a-b, a*b, a^2+b^2, a^2+ab+b^2 and a^3+ab (the last two are reported not to grok)."""


def modular(op: str = "add", p: int = 97, train_fraction: float = 0.5, seed: int = 0) -> Task:
    """All p*p pairs (a, b), shuffled by `seed` and cut into disjoint train and test sets.

    Tokens: 0..p-1 for numbers, p for the operator, p+1 for the equals sign.
    """
    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}; choose one of {sorted(OPERATIONS)}")
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
    inputs = torch.stack([a, torch.full_like(a, p), b, torch.full_like(a, p + 1)], dim=1)
    targets = OPERATIONS[op](a, b) % p
    train, test = cut(inputs, targets, permutation(p * p, seed), int(train_fraction * p * p))
    return Task(f"modular-{op}", train, test, vocab=p + 2, classes=p)


def modular_addition(
    p: int = 97, train_fraction: float = 0.5, seed: int = 0
) -> tuple[Split, Split]:
    """The (train, test) splits of (a + b) mod p."""
    task = modular("add", p, train_fraction, seed)
    return task.train, task.test
