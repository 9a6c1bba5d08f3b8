"""The LM trainer: warmup and cosine schedule, clipped seeded steps, fixed evaluation batches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from training.lm import GPTConfig, LMConfig, LMTrainer, learning_rate


def test_the_schedule_warms_up_linearly_then_decays_to_its_floor() -> None:
    config = LMConfig(steps=1000, lr=1e-3, warmup=100, min_lr_fraction=0.1)
    assert learning_rate(0, config) == pytest.approx(1e-5)
    assert learning_rate(49, config) == pytest.approx(5e-4)
    assert learning_rate(100, config) == pytest.approx(1e-3)
    assert learning_rate(550, config) == pytest.approx(0.55e-3)
    assert learning_rate(1000, config) == pytest.approx(1e-4)
    rates = [learning_rate(s, config) for s in range(100, 1001)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def _trainer(seed: int = 0) -> LMTrainer:
    model = GPTConfig(vocab=40, context=8, layers=1, d_model=16, heads=2)
    return LMTrainer(model, LMConfig(steps=30, warmup=5, batch=4, seed=seed))


def test_training_is_seeded_and_sets_the_scheduled_rate() -> None:
    stream = (np.arange(400) % 40).astype(np.uint16)
    a, b = _trainer(), _trainer()
    losses_a = [a.train_step(stream) for _ in range(10)]
    losses_b = [b.train_step(stream) for _ in range(10)]
    assert losses_a == losses_b
    assert a.optimizer.param_groups[0]["lr"] == pytest.approx(learning_rate(9, a.config))
    assert losses_a[-1] < losses_a[0]


def test_weight_decay_skips_biases_and_norms() -> None:
    trainer = _trainer()
    decayed, plain = trainer.optimizer.param_groups
    assert decayed["weight_decay"] == 0.5 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"])
    assert all(p.dim() < 2 for p in plain["params"])


def test_evaluation_uses_the_same_batches_every_time_and_does_not_train() -> None:
    trainer = _trainer()
    stream = np.random.default_rng(0).integers(0, 40, 500).astype(np.uint16)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    assert trainer.evaluate(stream, 3) == trainer.evaluate(stream, 3)
    assert all((p == q).all() for p, q in zip(before, trainer.model.parameters(), strict=True))
    assert trainer.model.training
