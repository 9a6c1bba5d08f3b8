"""The shape every task shares: token inputs, one class per example, disjoint splits."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Split:
    """Inputs (n x T tokens) and class targets (n) of one split."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return int(self.targets.shape[0])


@dataclass(frozen=True)
class Task:
    """A classification task: predict `targets` from the last position of `inputs`."""

    name: str
    train: Split
    test: Split
    vocab: int
    classes: int

    @property
    def context(self) -> int:
        """Tokens per example."""
        return int(self.train.inputs.shape[1])


def permutation(n: int, seed: int) -> torch.Tensor:
    """A permutation of 0..n-1 determined by `seed` alone."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def cut(inputs: torch.Tensor, targets: torch.Tensor, order: torch.Tensor, n_train: int) -> tuple[
    Split, Split
]:  # fmt: skip
    """Train = the first `n_train` rows of `order`, test = the rest."""
    train, test = order[:n_train], order[n_train:]
    return Split(inputs[train], targets[train]), Split(inputs[test], targets[test])
