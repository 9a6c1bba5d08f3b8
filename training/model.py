"""A small pre-norm transformer over a short token sequence, predicting from its last position."""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    """Self-attention then an MLP, each with a residual connection."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """The block's output at every position, or (last_only) at the last one alone."""
        h = self.ln1(x)
        query, x = (h[:, -1:], x[:, -1:]) if last_only else (h, x)
        x = x + self.attn(query, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Token and position embeddings, `layers` blocks, and an unembedding of the last position."""

    def __init__(
        self, vocab: int, outputs: int, d_model: int = 128, heads: int = 4, layers: int = 2,
        context: int = 4,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Parameter(torch.randn(context, d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(d_model, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, outputs)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (n x outputs) for token rows (n x T), T <= context.

        Only the last position is classified, so the last block computes that position alone.
        """
        x = self.embed(tokens) + self.position[: tokens.shape[1]]
        for i, block in enumerate(self.blocks):
            x = block(x, last_only=i == len(self.blocks) - 1)
        return self.head(self.ln(x)[:, -1])
