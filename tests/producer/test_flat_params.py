"""FSDP1 naming without a process group; the sharded layouts run in `test_distributed.py`."""

from __future__ import annotations

import torch

from producer.flat_params import clean_name, named_parameters


def test_clean_name_drops_fsdp_and_checkpoint_wrappers() -> None:
    wrapped = "_fsdp_wrapped_module.0._checkpoint_wrapped_module._fsdp_wrapped_module.weight"
    assert clean_name(wrapped) == "0.weight"
    assert clean_name("module.0.weight") == "module.0.weight"


def test_a_model_without_fsdp_keeps_its_parameters_and_names() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    assert [(n, id(p)) for n, p in named_parameters(net)] == [
        (n, id(p)) for n, p in net.named_parameters()
    ]
