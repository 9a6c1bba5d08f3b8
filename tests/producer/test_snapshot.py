"""Snapshot layouts in one process: which ranks count which parameters."""

from __future__ import annotations

import numpy as np
import torch

from producer.groups import resolve_groups
from producer.sketch import CountSketch
from producer.snapshot import Snapshotter, choose_layout


def test_replicated_parameters_count_once_under_a_sharded_layout() -> None:
    model = torch.nn.Linear(3, 2)
    groups = resolve_groups(model)
    sketch = CountSketch(16)
    rank0 = Snapshotter(sketch, groups, "sharded", rank=0)._group(groups["all"])
    rank1 = Snapshotter(sketch, groups, "sharded", rank=1)._group(groups["all"])
    assert np.array_equal(rank1, np.zeros(16))
    assert np.allclose(rank0 + rank1, sketch.sketch_parameters(model.named_parameters()))


def test_auto_layout_without_dtensors_is_replicated() -> None:
    groups = resolve_groups(torch.nn.Linear(3, 2))
    assert choose_layout("auto", groups, world=4) == "replicated"
    assert choose_layout("allreduce", groups, world=4) == "allreduce"
    assert choose_layout("sharded", groups, world=1) == "replicated"
