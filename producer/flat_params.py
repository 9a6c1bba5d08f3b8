"""FSDP1 flat parameters: the original parameters in each `FlatParameter`, by their own names.

`FullyShardedDataParallel` concatenates a unit's parameters into one flat buffer and gives each
rank a padded slice of it. With `use_orig_params=False` the model lists only the flat buffers;
with `True` it lists the original parameters as 1-d views of this rank's slice. Either way each
original parameter becomes one `FlatMember` named as in the unwrapped model, so groups, names and
sketches match a single-process run; `producer.shards` reads its piece at its global offset.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from producer.errors import ShardError

FLAT_PARAM = "_flat_param"
_WRAPPER_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")
_HYBRID = {"HYBRID_SHARD", "_HYBRID_SHARD_ZERO2"}


@dataclass(frozen=True)
class FlatMember:
    """Original parameter `index` of FlatParameter `flat`: `module` owns it, `sharded` is False
    under NO_SHARD (every rank holds all of it), and `counted` is False on hybrid-shard replicas
    other than the first (so each element is counted once over the world)."""

    flat: Any
    index: int
    module: Any
    sharded: bool
    counted: bool

    @property
    def requires_grad(self) -> bool:
        originals = self.flat._params
        return bool((self.flat if originals is None else originals[self.index]).requires_grad)

    def local(self) -> tuple[Any, int]:
        """(this rank's values of the parameter, flattened; their offset in the parameter)."""
        info = self.flat._shard_param_infos[self.index]
        if not self.counted or not info.in_shard:
            return self.flat.new_empty(0), 0
        # `_local_shard` appears at FSDP's lazy init (first forward); until then `flat` is the shard
        shard = getattr(self.flat, "_local_shard", self.flat) if self.sharded else self.flat
        start = info.offset_in_shard
        return shard.detach()[start : start + info.numel_in_shard], info.intra_param_start_idx


def named_parameters(model: Any) -> list[tuple[str, Any]]:
    """`model.named_parameters()` with each FSDP1 parameter a `FlatMember` under its clean name."""
    members = dict(_members_by_id(model))
    named: list[tuple[str, Any]] = []
    for name, parameter in model.named_parameters():
        clean = clean_name(name)
        if clean.endswith(FLAT_PARAM) and hasattr(parameter, "_fqns"):
            prefix = clean[: -len(FLAT_PARAM)]
            fqns = parameter._fqns
            named.extend((prefix + fqns[i], members[id(parameter), i]) for i in range(len(fqns)))
        elif (id(parameter), None) in members:
            named.append((clean, members[id(parameter), None]))
        else:
            named.append((name, parameter))
    return named


def clean_name(name: str) -> str:
    """`name` without FSDP's and activation checkpointing's wrapper prefixes."""
    for prefix in _WRAPPER_PREFIXES:
        name = name.replace(prefix, "")
    return name


def _members_by_id(model: Any) -> Iterator[tuple[tuple[int, int | None], FlatMember]]:
    """Keys (id(flat), index) and, with use_orig_params, (id(original parameter), None)."""
    fsdp = sys.modules.get("torch.distributed.fsdp")
    if fsdp is None or not hasattr(model, "modules"):
        return
    for unit in fsdp.FullyShardedDataParallel.fsdp_modules(model):
        handle = unit._handle
        if handle is None:
            continue
        flat = handle.flat_param
        strategy = unit.sharding_strategy.name
        counted = strategy not in _HYBRID or _replica_index(unit) == 0
        for index, info in enumerate(flat._param_infos):
            member = FlatMember(flat, index, info.module, handle.uses_sharded_strategy, counted)
            yield (id(flat), index), member
            if flat._params is not None:
                yield (id(flat._params[index]), None), member


def _replica_index(unit: Any) -> int:
    group = getattr(unit, "_inter_node_pg", None)
    if group is None:
        raise ShardError("hybrid-sharded FSDP unit without a replica process group")
    return int(sys.modules["torch"].distributed.get_rank(group))
