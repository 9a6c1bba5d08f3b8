"""Models the producer benchmarks train: the demo transformer and a ~10M-parameter GPT."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Step = Callable[[], None]


class GPT(nn.Module):
    """A nanoGPT-style decoder: token and position embeddings, pre-norm blocks, tied head."""

    def __init__(self, vocab: int = 4096, context: int = 64, width: int = 256, layers: int = 12):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(torch.zeros(context, width))
        layer = nn.TransformerEncoderLayer(width, 8, 4 * width, dropout=0.0, batch_first=True,
                                           norm_first=True, activation="gelu")  # fmt: skip
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embed.weight
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.position[: tokens.shape[1]]
        x = self.blocks(x, mask=self.mask[: tokens.shape[1], : tokens.shape[1]], is_causal=True)
        return self.head(self.norm(x))


def demo_transformer() -> nn.Module:
    """The demo's modular-addition transformer (mod 97, d_model 128, 2 layers, context 4)."""
    from training.model import Transformer

    return Transformer(99, 97, d_model=128, heads=4, layers=2, context=4)


def trainer(name: str, seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, Step]:
    """(model, AdamW optimizer, one training step) for `demo` or `gpt`."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if name == "demo":
        model = demo_transformer()
        inputs = torch.randint(0, 97, (256, 4), generator=generator)
        targets = torch.randint(0, 97, (256,), generator=generator)
    else:
        model = GPT()
        inputs = torch.randint(0, 4096, (4, 64), generator=generator)
        targets = torch.randint(0, 4096, (4, 64), generator=generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs)
        flat = logits.reshape(-1, logits.shape[-1])
        loss = nn.functional.cross_entropy(flat, targets.reshape(-1))
        loss.backward()
        optimizer.step()

    return model, optimizer, step


def parameter_count(model: nn.Module) -> int:
    """Distinct trainable parameters (tied ones once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
