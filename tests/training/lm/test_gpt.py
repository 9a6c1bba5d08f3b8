"""The decoder: causal, tied, the sizes the reproduction uses."""

from __future__ import annotations

import torch

from training.lm import GPT, GPTConfig


def test_a_position_sees_only_itself_and_earlier_tokens() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab=50, context=12, layers=2, d_model=32, heads=4)).eval()
    tokens = torch.randint(0, 50, (2, 12))
    changed = tokens.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 50
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-3)


def test_the_unembedding_is_the_token_embedding_counted_once() -> None:
    model = GPT(GPTConfig(vocab=64, context=8, layers=1, d_model=16, heads=2))
    assert model.head.weight is model.embed.weight
    names = [n for n, _ in model.named_parameters()]
    assert "embed.weight" in names and "head.weight" not in names
    # one block: 12 d^2 + 13 d weights and biases; embeddings (64 + 8) x 16; 2 final-norm vectors
    d = 16
    assert model.size() == 12 * d * d + 13 * d + (64 + 8) * d + 2 * d


def test_the_loss_starts_near_log_vocab_and_falls_when_trained() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab=32, context=8, layers=1, d_model=32, heads=2))
    tokens = torch.arange(9).repeat(4, 1) % 32
    first = model.loss(tokens[:, :-1], tokens[:, 1:]).item()
    assert abs(first - torch.log(torch.tensor(32.0)).item()) < 0.3
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = model.loss(tokens[:, :-1], tokens[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * first
