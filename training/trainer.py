"""Mini-batch AdamW training of a `Transformer` on a `Task`, one step at a time."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional

from training.model import Transformer
from training.split import Split, Task


@dataclass(frozen=True)
class TrainConfig:
    """Model size and optimiser settings (design section 8 by default)."""

    d_model: int = 128
    heads: int = 4
    layers: int = 2
    lr: float = 1e-3
    weight_decay: float = 1.0
    beta2: float = 0.98
    batch: int = 256
    seed: int = 0


class Trainer:
    """A model, its AdamW optimiser and a seeded batch sampler over `task.train`."""

    def __init__(self, task: Task, config: TrainConfig) -> None:
        self.task, self.config = task, config
        torch.manual_seed(config.seed)
        self.model = Transformer(
            task.vocab, task.classes, config.d_model, config.heads, config.layers, task.context
        )
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=config.lr,
            weight_decay=config.weight_decay,
            betas=(0.9, config.beta2),
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training mini-batch (the whole set when it is smaller than `batch`)."""
        train = self.task.train
        if len(train) <= self.config.batch:
            return train.inputs, train.targets
        rows = torch.randint(len(train), (self.config.batch,), generator=self.generator)
        return train.inputs[rows], train.targets[rows]

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the model on a batch."""
        return functional.cross_entropy(self.model(inputs), targets)

    def train_step(self) -> float:
        """One optimizer step on a fresh mini-batch; returns its loss."""
        loss = self.loss(*self.batch())
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    def accuracy(self, split: Split) -> float:
        """Fraction of `split` classified correctly."""
        return self.evaluate(split)[0]

    def evaluate(self, split: Split) -> tuple[float, float]:
        """(accuracy, mean cross-entropy) of the model on `split`."""
        with torch.no_grad():
            logits = self.model(split.inputs)
            hits = logits.argmax(-1) == split.targets
            loss = functional.cross_entropy(logits, split.targets)
        return float(hits.float().mean()), float(loss)

    def param_norm(self) -> float:
        """L2 norm of all parameters (what weight decay compresses)."""
        with torch.no_grad():
            return float(torch.cat([p.reshape(-1) for p in self.model.parameters()]).norm())
