"""Workers for the producer's multi-process tests: every layout of `training.sharded` on gloo.

`worker` runs on every rank (through `torch.multiprocessing.spawn`) one short watched training run
per scenario, recording on rank 0 the full parameters at every snapshot step so the test can
sketch them in one process, and on every rank the names of the groups the producer resolved.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from producer.flat_params import clean_name
from producer.groups import resolve_groups
from training import sharded

EVERY, STEPS, DIM, SEED = 2, 4, 64, 1
ENV = {"SPECTRAL_EDGE_LINGER_MS": "0", "SPECTRAL_EDGE_RESEND_AFTER": "0.2"}
# scenario -> (layout, producer's `distributed` option)
SCENARIOS = {
    "ddp": ("ddp", "auto"),
    "sharded": ("fsdp2", "sharded"),
    "allreduce": ("fsdp2", "allreduce"),
    "fsdp1-flat": ("fsdp1", "auto"),
    "fsdp1-orig": ("fsdp1-orig", "auto"),
    "fsdp1-hybrid": ("fsdp1-hybrid", "auto"),
    "zero3": ("zero3", "auto"),
}


def worker(rank: int, world: int, port: int, endpoint: str, out: str, names: Sequence[str]) -> None:
    """One rank: run the scenarios `names` and save what this rank recorded."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        results = {name: _scenario(rank, endpoint, name) for name in names}
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _scenario(rank: int, endpoint: str, name: str) -> dict[str, Any]:
    layout, distributed = SCENARIOS[name]
    run = None if name == "ddp" else f"run-{name}"
    options = {"every": EVERY, "dim": DIM, "seed": SEED, "run_id": run, "endpoint": endpoint}
    wrapped, watch, step = sharded.watched(layout, distributed=distributed, env=ENV, **options)
    module = wrapped.module if layout == "zero3" else wrapped
    groups = resolve_groups(module, {"first": _first(module), "second": r"^2\."})
    generator = torch.Generator().manual_seed(100 + rank)
    recorded = {0: _full(module, layout)}
    for _ in range(STEPS):
        done = step(torch.randn(8, 5, generator=generator))
        if done % EVERY == 0:
            recorded[done] = _full(module, layout)
    watch.close()
    return {
        "run": watch.run_id,
        "recorded": recorded if rank == 0 else {},
        "groups": {group: [n for n, _ in members] for group, members in groups.items()},
    }


def _first(module: torch.nn.Module) -> Any:
    """A module filter for the first layer: the unwrapped `Linear` inside any wrapper."""
    return next(m for m in module.modules() if isinstance(m, torch.nn.Linear))


def _full(module: torch.nn.Module, layout: str) -> list[tuple[str, torch.Tensor]]:
    """The full parameters under their unwrapped names (a collective: every rank calls it)."""
    if layout == "zero3":
        import deepspeed

        named = list(module.named_parameters())
        with deepspeed.zero.GatheredParameters([p for _, p in named]):
            return [(n, p.detach().clone()) for n, p in named]
    if layout.startswith("fsdp1"):
        from torch.distributed.fsdp import FullyShardedDataParallel

        with FullyShardedDataParallel.summon_full_params(module, writeback=False):
            return [(clean_name(n), p.detach().clone()) for n, p in module.named_parameters()]
    if layout == "fsdp2":
        return [(n, p.full_tensor().detach().clone()) for n, p in module.named_parameters()]
    return [(n, p.detach().clone()) for n, p in module.named_parameters()]
