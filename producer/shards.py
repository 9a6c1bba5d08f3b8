"""Local tensors to global coordinates: which (name, values, global offset) pieces this rank holds.

The sketch is defined on global flat indices, so a rank sketches each piece at its offset and the
sums over ranks equal the sketch of the whole tensor. Handled layouts: plain tensors (the whole
parameter), DTensors (FSDP2 `fully_shard`, tensor parallel: `Shard(d)` blocks, `Replicate` mesh
dimensions counted once at mesh coordinate 0, sum-`Partial` values counted on every rank), FSDP1
flat-parameter members (`producer.flat_params`), and DeepSpeed ZeRO-3 partitions (rank r of the
partition group holds elements [r * size, (r + 1) * size) of the flattened parameter, padded).
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Sequence
from typing import Any

from producer.errors import ShardError
from producer.flat_params import FlatMember

Piece = tuple[str, Any, int]


def local_pieces(name: str, tensor: Any) -> list[Piece]:
    """The pieces of parameter `name` held by this process (empty when another rank counts it)."""
    if isinstance(tensor, FlatMember):
        values, offset = tensor.local()
        return [(name, values, offset)] if len(values) else []
    if _is_zero3(tensor):
        return _zero3_pieces(name, tensor)
    torch = sys.modules.get("torch")
    if torch is None or not _is_dtensor(torch, tensor):
        return [(name, tensor, 0)]
    return _dtensor_pieces(name, tensor)


def is_sharded(tensor: Any) -> bool:
    """Whether each rank holds only a part of `tensor` (DTensor, FSDP1 shard, ZeRO-3 partition)."""
    if isinstance(tensor, FlatMember):
        return tensor.sharded
    if _is_zero3(tensor):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and _is_dtensor(torch, tensor)


def block_pieces(
    name: str, local: Any, global_shape: Sequence[int], global_offset: Sequence[int]
) -> list[Piece]:
    """Pieces of an n-d block `local` placed at `global_offset` inside a tensor of global_shape.

    Dimensions after the last one that the block cuts are whole, so each run of the block along
    it is contiguous in global flat order: one piece per index of the dimensions before it.
    """
    shape = tuple(local.shape)
    if math.prod(shape) == 0:
        return []
    if not shape:
        return [(name, local.reshape(-1), 0)]
    cuts = [k for k, (a, b) in enumerate(zip(shape, global_shape, strict=True)) if a != b]
    cut = cuts[-1] if cuts else 0
    strides = [math.prod(global_shape[k + 1 :]) for k in range(len(global_shape))]
    pieces = []
    for index in itertools.product(*(range(n) for n in shape[:cut])):
        lead = sum((o + i) * s for o, i, s in zip(global_offset, index, strides, strict=False))
        offset = lead + global_offset[cut] * strides[cut]
        pieces.append((name, local[index].reshape(-1), offset))
    return pieces


def flat_slice_pieces(layout: Sequence[tuple[str, int]], start: int, values: Any) -> list[Piece]:
    """Pieces of `values`, the slice [start, start + len) of parameters concatenated in `layout`.

    `layout` lists (name, numel) in buffer order; padding after the last parameter is ignored.
    """
    pieces = []
    stop = start + len(values)
    base = 0
    for name, numel in layout:
        lo, hi = max(start, base), min(stop, base + numel)
        if lo < hi:
            pieces.append((name, values[lo - start : hi - start], lo - base))
        base += numel
    return pieces


def _dtensor_pieces(name: str, tensor: Any) -> list[Piece]:
    from torch.distributed.tensor import Partial, Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    mesh, placements = tensor.device_mesh, tensor.placements
    coordinate = mesh.get_coordinate()
    if coordinate is None:
        return []
    for dim, placement in enumerate(placements):
        if isinstance(placement, Replicate) and coordinate[dim] != 0:
            return []
        if isinstance(placement, Partial) and placement.reduce_op != "sum":
            raise ShardError(f"{name}: cannot sketch a Partial({placement.reduce_op}) tensor")
        if not isinstance(placement, Replicate | Partial) and type(placement) is not Shard:
            raise ShardError(f"{name}: unsupported placement {placement!r}")
    shape, offset = compute_local_shape_and_global_offset(tensor.shape, mesh, placements)
    local = tensor.to_local()
    if tuple(local.shape) != tuple(shape):
        raise ShardError(f"{name}: local shape {tuple(local.shape)} is not {tuple(shape)}")
    return block_pieces(name, local, tuple(tensor.shape), offset)


def _zero3_pieces(name: str, parameter: Any) -> list[Piece]:
    partition = parameter.ds_tensor
    if partition.status.name != "AVAILABLE":
        raise ShardError(f"{name}: its ZeRO-3 partition is not in memory ({partition.status.name})")
    dist = sys.modules["torch"].distributed
    start = partition.ds_numel * dist.get_rank(group=parameter.ds_process_group)
    return flat_slice_pieces([(name, parameter.ds_numel)], start, partition.detach().reshape(-1))


def _is_zero3(tensor: Any) -> bool:
    return hasattr(tensor, "ds_tensor") and hasattr(tensor, "ds_numel")


def _is_dtensor(torch: Any, tensor: Any) -> bool:
    if not torch.distributed.is_available():
        return False
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # torch < 2.4: no public DTensor, so nothing here is one
        return False
    return isinstance(tensor, DTensor)
