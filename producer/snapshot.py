"""One snapshot: the sketch of every parameter group, under one of the distributed layouts.

- `replicated` (plain or DDP training): rank 0 sketches whole parameters, one owner per snapshot.
- `sharded` (FSDP2 / tensor parallel / FSDP1 / DeepSpeed ZeRO-3, the default when any parameter
  is sharded): every rank sketches the pieces it holds at their global offsets and sends them;
  the analyzer sums `world` partials.
- `allreduce`: as `sharded`, then one all-reduce of the partial sketches (a G x d float64 tensor
  plus an error flag) so rank 0 sends complete sketches. Every rank joins every all-reduce even
  when its own sketch failed, so no rank is left waiting; a failure anywhere stops all of them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from producer.errors import ProducerError
from producer.groups import Named
from producer.shards import Piece, is_sharded, local_pieces
from producer.sketch import CountSketch


class SnapshotError(ProducerError):
    """A snapshot failed on some rank (all ranks stop sketching together)."""


def choose_layout(requested: str, groups: Mapping[str, Named], world: int) -> str:
    """The layout to use: `auto` is `sharded` when any parameter is sharded, else replicated."""
    if world == 1:
        return "replicated"
    if requested != "auto":
        return requested
    sharded = any(is_sharded(p) for members in groups.values() for _, p in members)
    return "sharded" if sharded else "replicated"


class Snapshotter:
    """`take() -> {group: sketch}` for this rank under `layout`.

    Under `sharded` and `allreduce`, a parameter that is not sharded is replicated, so only
    rank 0 counts it (every rank counting it would multiply it by the world size).
    """

    def __init__(
        self, sketch: CountSketch, groups: Mapping[str, Named], layout: str, rank: int = 0
    ) -> None:
        self.sketch, self.groups, self.layout, self.rank = sketch, dict(groups), layout, rank

    @property
    def owners(self) -> int:
        """How many partial sketches make one complete snapshot at the analyzer."""
        if self.layout != "sharded":
            return 1
        return int(sys.modules["torch"].distributed.get_world_size())

    def take(self) -> dict[str, np.ndarray]:
        """The sketch (or this rank's partial sketch) of each group."""
        if self.layout != "allreduce":
            return {group: self._group(members) for group, members in self.groups.items()}
        return self._reduced()

    def _group(self, members: Named) -> np.ndarray:
        pieces: list[Piece] = []
        for name, parameter in members:
            if self.rank == 0 or is_sharded(parameter):
                pieces.extend(local_pieces(name, parameter))
        return self.sketch.sketch_pieces(pieces)

    def _reduced(self) -> dict[str, np.ndarray]:
        torch = sys.modules["torch"]
        dist = torch.distributed
        names, dim = list(self.groups), self.sketch.dim
        flat = np.zeros(len(names) * dim + 1)
        try:
            for i, group in enumerate(names):
                flat[i * dim : (i + 1) * dim] = self._group(self.groups[group])
        except Exception:
            flat[:] = 0.0
            flat[-1] = 1.0
        tensor = torch.from_numpy(flat).to(_collective_device(torch, dist))
        dist.all_reduce(tensor)
        total = tensor.cpu().numpy()
        if total[-1] > 0:
            raise SnapshotError(f"sketching failed on {int(total[-1])} rank(s)")
        return {group: total[i * dim : (i + 1) * dim] for i, group in enumerate(names)}


def _collective_device(torch: Any, dist: Any) -> Any:
    """CPU for gloo, the current CUDA device for NCCL."""
    if "nccl" in str(dist.get_backend()).lower():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
