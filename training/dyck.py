"""Dyck-1 depth prediction: read a bracket sequence, predict the depth at a queried position.

Every sequence of `length` brackets whose depth never goes below zero (a prefix of a Dyck-1
word) is enumerated, shuffled by `seed`, and cut into `n_train` training sequences and up to
`n_test` test sequences (disjoint). Each sequence yields one example per position j = 1..length:
tokens 0 = `(`, 1 = `)`, then the query token 2 + j; the target is the depth after the j-th
bracket (0..length).
"""

from __future__ import annotations

import torch

from training.split import Task, cut, permutation

OPEN, CLOSE, QUERY = 0, 1, 2


def prefixes(length: int) -> torch.Tensor:
    """All bracket sequences of `length` whose running depth stays >= 0 (rows of 0/1 tokens)."""
    codes = torch.arange(2**length)
    bits = (codes[:, None] >> torch.arange(length - 1, -1, -1)) & 1
    depth = torch.cumsum(1 - 2 * bits, dim=1)
    return bits[(depth >= 0).all(dim=1)]


def dyck_depth(length: int = 16, n_train: int = 50, n_test: int = 128, seed: int = 0) -> Task:
    """The Dyck-1 depth task over prefixes of `length` brackets."""
    seqs = prefixes(length)
    if n_train >= seqs.shape[0]:
        raise ValueError(f"only {seqs.shape[0]} prefixes of length {length}")
    chosen = seqs[permutation(seqs.shape[0], seed)[: n_train + n_test]]
    n, positions = chosen.shape[0], torch.arange(1, length + 1)
    queries = (QUERY + positions).repeat(n)[:, None]
    inputs = torch.cat([chosen.repeat_interleave(length, dim=0), queries], dim=1)
    targets = torch.cumsum(1 - 2 * chosen, dim=1).reshape(-1)
    train, test = cut(inputs, targets, torch.arange(n * length), n_train * length)
    return Task("dyck-depth", train, test, vocab=QUERY + 1 + length, classes=length + 1)
