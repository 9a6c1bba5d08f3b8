"""The transformer's last-position shortcut computes exactly what the full sequence would."""

from __future__ import annotations

import torch

from training.model import Transformer


def test_last_block_on_the_last_position_equals_the_full_sequence() -> None:
    torch.manual_seed(0)
    model = Transformer(vocab=20, outputs=7, d_model=32, heads=4, layers=3, context=9).eval()
    tokens = torch.randint(20, (5, 9))
    with torch.no_grad():
        x = model.embed(tokens) + model.position[:9]
        for block in model.blocks:
            x = block(x)
        full = model.head(model.ln(x)[:, -1])
        torch.testing.assert_close(model(tokens), full, rtol=1e-6, atol=1e-6)


def test_gradients_reach_every_parameter() -> None:
    model = Transformer(vocab=20, outputs=7, d_model=32, heads=4, layers=2, context=5)
    model(torch.randint(20, (3, 5))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
