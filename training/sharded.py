"""A small model trained under one distributed layout and watched by spectral-edge, on CPU gloo.

    torchrun --standalone --nproc-per-node 2 -m training.sharded --layout fsdp1

Layouts: `ddp`, `fsdp2` (`fully_shard`), `fsdp1` (FlatParameters), `fsdp1-orig`
(`use_orig_params=True`), `fsdp1-hybrid` (HYBRID_SHARD, replicas of two-way shards: 4 ranks) and
`zero3` (DeepSpeed ZeRO stage 3 on its CPU accelerator). Every layout sends the same sketches a
single process would, so the analyzer's run looks the same whichever one trained it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FullyShardedDataParallel, ShardingStrategy, fully_shard

import producer

LAYOUTS = ("ddp", "fsdp2", "fsdp1", "fsdp1-orig", "fsdp1-hybrid", "zero3")
ZERO3 = {
    "train_micro_batch_size_per_gpu": 8,
    "zero_optimization": {"stage": 3},
    "zero_allow_untested_optimizer": True,
}
Step = Callable[[torch.Tensor], int]


def model() -> torch.nn.Sequential:
    """Uneven sizes, so shards differ between ranks."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def wrap(net: torch.nn.Sequential, layout: str) -> torch.nn.Module:
    """`net` under a PyTorch layout (FSDP1: `net[0]` is one unit, the root holds `net[2]`)."""
    world = dist.get_world_size()
    if layout == "ddp":
        return torch.nn.parallel.DistributedDataParallel(net)
    if layout == "fsdp2":
        mesh = init_device_mesh("cpu", (world,))
        fully_shard(net[0], mesh=mesh)
        fully_shard(net, mesh=mesh)
        return net
    cpu = torch.device("cpu")
    options: dict[str, Any] = {"use_orig_params": layout != "fsdp1", "device_id": cpu}
    if layout == "fsdp1-hybrid":
        options["sharding_strategy"] = ShardingStrategy.HYBRID_SHARD
        options["device_mesh"] = init_device_mesh("cpu", (2, world // 2))
    net[0] = FullyShardedDataParallel(net[0], **options)
    return FullyShardedDataParallel(net, **options)


def zero3(net: torch.nn.Module, lr: float) -> Any:
    """A DeepSpeed ZeRO-3 engine for `net` with torch's SGD, on DeepSpeed's CPU accelerator."""
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import deepspeed
    import deepspeed.ops

    # No JIT-built C++ kernels (the shared-memory all-reduce compiles for over a minute): gloo
    # carries every collective, and the optimizer is torch's own.
    deepspeed.ops.__compatible_ops__ = {}
    deepspeed.init_distributed(dist_backend="gloo")
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    engine, *_ = deepspeed.initialize(model=net, optimizer=optimizer, config=ZERO3)
    return engine


def watched(layout: str, lr: float = 0.1, **options: Any) -> tuple[Any, producer.Watch, Step]:
    """(the wrapped model or engine, its watch, `step(batch) -> optimizer steps so far`)."""
    if layout == "zero3":
        engine = zero3(model(), lr)
        watch = producer.watch(engine.module, **options)

        def zero3_step(batch: torch.Tensor) -> int:
            engine.backward(engine(batch).pow(2).mean())
            engine.step()
            watch.advance(engine.global_steps)
            return int(engine.global_steps)

        return engine, watch, zero3_step
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    net = wrap(model(), layout)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    watch = producer.watch(net, optimizer, **options)
    steps = 0

    def torch_step(batch: torch.Tensor) -> int:
        nonlocal steps
        optimizer.zero_grad()
        net(batch).pow(2).mean().backward()
        optimizer.step()
        steps += 1
        return steps

    return net, watch, torch_step


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (under torchrun)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=LAYOUTS, default="fsdp1")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="analyzer endpoint")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    _, watch, step = watched(args.layout, every=args.every, endpoint=args.endpoint,
                             project=f"sharded-{args.layout}")  # fmt: skip
    generator = torch.Generator().manual_seed(100 + dist.get_rank())
    with watch:
        for _ in range(args.steps):
            step(torch.randn(8, 5, generator=generator))
    if dist.get_rank() == 0:
        print(f"{args.layout}: run {watch.run_id}, {args.steps} steps", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
