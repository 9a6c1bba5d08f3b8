"""Parameter groups: regex, per-block captures, modules, predicates; tied once, buffers never."""

from __future__ import annotations

import pytest
import torch

from producer.errors import ConfigError
from producer.groups import resolve_groups


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.blocks = torch.nn.ModuleList(
            torch.nn.ModuleDict({"attn": torch.nn.Linear(4, 4), "mlp": torch.nn.Linear(4, 4)})
            for _ in range(2)
        )
        self.norm = torch.nn.BatchNorm1d(4)  # has buffers
        self.head = torch.nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # tied


def names(groups: dict) -> dict[str, list[str]]:
    return {group: [name for name, _ in members] for group, members in groups.items()}


def test_default_is_one_group_of_parameters_without_buffers_or_repeats() -> None:
    groups = names(resolve_groups(Tiny()))
    assert list(groups) == ["all"]
    assert "head.weight" not in groups["all"] and "embed.weight" in groups["all"]
    assert not any("running" in name or "num_batches" in name for name in groups["all"])


def test_regex_capture_makes_one_group_per_block() -> None:
    groups = names(resolve_groups(Tiny(), {"attn": r"\.attn\.", "block": r"blocks\.(\d+)\."}))
    assert groups["attn"] == [f"blocks.{i}.attn.{p}" for i in (0, 1) for p in ("weight", "bias")]
    assert list(groups) == ["attn", "block.0", "block.1"]
    assert len(groups["block.1"]) == 4


def test_module_and_predicate_filters() -> None:
    model = Tiny()
    spec = {"first": model.blocks[0], "mlps": [b["mlp"] for b in model.blocks]}
    spec["matrices"] = lambda name, p: p.ndim == 2
    groups = names(resolve_groups(model, spec))
    assert groups["first"] == ["blocks.0.attn.weight", "blocks.0.attn.bias",
                               "blocks.0.mlp.weight", "blocks.0.mlp.bias"]  # fmt: skip
    assert groups["mlps"] == [f"blocks.{i}.mlp.{p}" for i in (0, 1) for p in ("weight", "bias")]
    assert "norm.weight" not in groups["matrices"] and "embed.weight" in groups["matrices"]


def test_frozen_parameters_and_empty_groups_are_left_out() -> None:
    model = Tiny()
    model.embed.weight.requires_grad_(False)
    groups = names(resolve_groups(model, {"embedding": "embed", "all": ".*"}))
    assert list(groups) == ["all"] and "embed.weight" not in groups["all"]


def test_bad_filters_and_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="wire-safe"):
        resolve_groups(Tiny(), {"has space": ".*"})
    with pytest.raises(ConfigError, match="filter"):
        resolve_groups(Tiny(), {"x": 42})
