"""Update windows for the fidelity benchmark: planted-spectrum synthetic windows and a real run.

A synthetic window is U = A diag(sigma) B^T (W x P): A a random rotation, B orthonormal update
directions, sigma with one edge ratio 1.5 at a random k* and a runner-up ratio 1.18 elsewhere
(the rest 1.02-1.12). Direction types: `dense` (Gaussian), `heavy` (Student-t with 1.5 degrees
of freedom: a few coordinates carry most of the mass) and `strided` (each direction lives on the
indices i = j mod 64, like one column of a row-major matrix). The real windows are the updates of
the demo transformer learning modular addition, snapshotted every 10 steps.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.producer.models import demo_transformer

EDGE, RUNNER_UP, STRIDE = 1.5, 1.18, 64


def planted_sigma(rng: np.random.Generator, width: int) -> tuple[np.ndarray, int]:
    """Singular values with the edge (ratio 1.5) at k* (1-based) and one 1.18 runner-up."""
    ratios = rng.uniform(1.02, 1.12, width - 1)
    edge = int(rng.integers(1, width - 1))
    ratios[edge - 1] = EDGE
    ratios[rng.choice([k for k in range(width - 1) if k != edge - 1])] = RUNNER_UP
    sigma = np.concatenate([[1.0], 1.0 / np.cumprod(ratios)])
    return sigma, edge


def directions(rng: np.random.Generator, kind: str, size: int, width: int) -> np.ndarray:
    """Orthonormal columns (size x width) of the given type."""
    if kind == "strided":
        basis = np.zeros((size, width))
        for j in range(width):
            basis[j::STRIDE, j] = rng.standard_normal(len(range(j, size, STRIDE)))
        return basis / np.linalg.norm(basis, axis=0)
    shape = (size, width)
    raw = rng.standard_t(1.5, shape) if kind == "heavy" else rng.standard_normal(shape)
    return np.linalg.qr(raw)[0]


def synthetic(kind: str, count: int, size: int, width: int, seed: int) -> tuple[np.ndarray, list]:
    """`count` windows (count x width x size) and their planted edge indices."""
    rng = np.random.default_rng(seed)
    windows, edges = np.empty((count, width, size)), []
    for n in range(count):
        sigma, edge = planted_sigma(rng, width)
        rotation = np.linalg.qr(rng.standard_normal((width, width)))[0]
        windows[n] = (rotation * sigma) @ directions(rng, kind, size, width).T
        edges.append(edge)
    return windows, edges


def training_snapshots(steps: int, every: int, seed: int = 0) -> tuple[np.ndarray, list]:
    """Flat float64 parameters of the demo model every `every` AdamW steps on modular addition."""
    torch.manual_seed(seed)
    p = 97
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    tokens = torch.stack([a.flatten(), torch.full_like(a.flatten(), p), b.flatten(),
                          torch.full_like(a.flatten(), p + 1)], dim=1)  # fmt: skip
    targets = (a.flatten() + b.flatten()) % p
    train = torch.randperm(p * p)[: p * p // 2]
    model = demo_transformer()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    layout = [(name, q.numel()) for name, q in model.named_parameters()]
    snapshots = []
    for step in range(steps + 1):
        if step % every == 0:
            flat = [q.detach().double().reshape(-1) for q in model.parameters()]
            snapshots.append(torch.cat(flat))
        if step == steps:
            break
        batch = train[torch.randint(0, len(train), (512,))]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(tokens[batch]), targets[batch]).backward()
        optimizer.step()
    return torch.stack(snapshots).numpy(), layout
