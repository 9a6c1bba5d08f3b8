"""Workers for the producer's multi-process tests: gloo on loopback, DDP and FSDP2 on the CPU.

`worker` runs on every rank (through `torch.multiprocessing.spawn`): three short watched training
runs (DDP; FSDP2 with analyzer-side assembly; FSDP2 with the in-job all-reduce), recording on
rank 0 the full parameters at every snapshot step so the test can sketch them in one process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

import producer

EVERY, STEPS, DIM, SEED = 2, 4, 64, 1
ENV = {"SPECTRAL_EDGE_LINGER_MS": "0", "SPECTRAL_EDGE_RESEND_AFTER": "0.2"}
Recorded = dict[int, list[tuple[str, torch.Tensor]]]


def worker(rank: int, world: int, port: int, endpoint: str, out: str) -> None:
    """One rank: run the three scenarios and save what rank 0 recorded."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        results = {
            "ddp": _ddp(rank, endpoint),
            "sharded": _fsdp(rank, world, endpoint, "sharded"),
            "allreduce": _fsdp(rank, world, endpoint, "allreduce"),
        }
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def model() -> torch.nn.Module:
    """Uneven sizes, so FSDP2's dim-0 chunks differ between the two ranks."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def _ddp(rank: int, endpoint: str) -> dict[str, Any]:
    wrapped = DistributedDataParallel(model())
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.1)
    watched = producer.watch(wrapped, optimizer, every=EVERY, dim=DIM, seed=SEED,
                             endpoint=endpoint, env=ENV)  # fmt: skip
    recorded = _train(rank, wrapped, optimizer, lambda: _copy(wrapped.named_parameters()))
    watched.close()
    return {"run": watched.run_id, "recorded": recorded}


def _fsdp(rank: int, world: int, endpoint: str, layout: str) -> dict[str, Any]:
    mesh = init_device_mesh("cpu", (world,))
    sharded = model()
    fully_shard(sharded[0], mesh=mesh)
    fully_shard(sharded, mesh=mesh)
    optimizer = torch.optim.SGD(sharded.parameters(), lr=0.1)
    run = f"run-fsdp-{layout}"
    watched = producer.watch(sharded, optimizer, every=EVERY, dim=DIM, seed=SEED, run_id=run,
                             endpoint=endpoint, distributed=layout, env=ENV)  # fmt: skip

    def gather() -> list[tuple[str, torch.Tensor]]:
        return [(n, p.full_tensor().detach().clone()) for n, p in sharded.named_parameters()]

    recorded = _train(rank, sharded, optimizer, gather)
    watched.close()
    return {"run": run, "recorded": recorded}


def _train(rank: int, net: torch.nn.Module, optimizer: Any, snapshot: Any) -> Recorded:
    generator = torch.Generator().manual_seed(100 + rank)
    recorded = {0: snapshot()}
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()
        net(torch.randn(8, 5, generator=generator)).pow(2).mean().backward()
        optimizer.step()
        if step % EVERY == 0:
            recorded[step] = snapshot()
    return recorded if rank == 0 else {}


def _copy(named: Any) -> list[tuple[str, torch.Tensor]]:
    return [(name, p.detach().clone()) for name, p in named]
