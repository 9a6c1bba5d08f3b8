"""AdamW next-token training of a `GPT`, warmup then cosine decay: the paper's recipe, scaled down.

The learning rate rises linearly over `warmup` steps to `lr`, then follows a cosine to
`min_lr_fraction * lr` at `steps`; gradients are clipped to norm `clip`. Batches are random
`context + 1`-token slices of a stream, drawn from a generator seeded by the run's seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from training.lm.gpt import GPT, GPTConfig


@dataclass(frozen=True)
class LMConfig:
    """Optimiser and schedule (the paper's TinyStories settings by default) and the batch shape."""

    steps: int = 10_000
    lr: float = 1e-3
    warmup: int = 1_500
    min_lr_fraction: float = 0.1
    weight_decay: float = 0.5
    beta1: float = 0.9
    beta2: float = 0.95
    clip: float = 1.0
    batch: int = 16
    seed: int = 0


def learning_rate(step: int, config: LMConfig) -> float:
    """The schedule's rate for optimizer step `step` (0-based)."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min((step - config.warmup) / max(config.steps - config.warmup, 1), 1.0)
    floor = config.min_lr_fraction * config.lr
    return floor + 0.5 * (config.lr - floor) * (1.0 + math.cos(math.pi * progress))


class LMTrainer:
    """A seeded `GPT` on `device`, its AdamW optimiser and batch sampler; `.train_step(stream)`
    does one step."""

    def __init__(self, model: GPTConfig, config: LMConfig, device: str = "cpu") -> None:
        self.config, self.device = config, torch.device(device)
        torch.manual_seed(config.seed)
        self.model = GPT(model).to(self.device)
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        rest = [p for p in self.model.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay},
             {"params": rest, "weight_decay": 0.0}],
            lr=config.lr, betas=(config.beta1, config.beta2),
        )  # fmt: skip
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0

    def batch(self, stream: np.ndarray, generator: torch.Generator | None = None) -> torch.Tensor:
        """`batch` random slices of `context + 1` tokens of `stream`, as int64 (B, context + 1)."""
        span = self.model.config.context + 1
        starts = torch.randint(len(stream) - span, (self.config.batch,),
                               generator=generator or self.generator)  # fmt: skip
        rows = np.stack([stream[s : s + span] for s in starts.tolist()])
        return torch.from_numpy(rows.astype(np.int64)).to(self.device)

    def train_step(self, stream: np.ndarray) -> float:
        """One clipped AdamW step at the scheduled rate on a fresh batch of `stream`; its loss."""
        rate = learning_rate(self.step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        tokens = self.batch(stream)
        loss = self.model.loss(tokens[:, :-1], tokens[:, 1:])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    def evaluate(self, stream: np.ndarray, batches: int = 8, seed: int = 1234) -> float:
        """Mean loss over `batches` fixed batches of `stream` (the same slices at every call)."""
        generator = torch.Generator().manual_seed(seed)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            losses = [
                float(self.model.loss(t[:, :-1], t[:, 1:]))
                for t in (self.batch(stream, generator) for _ in range(batches))
            ]
        self.model.train(was_training)
        return float(np.mean(losses))
