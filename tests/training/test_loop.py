"""The instrumented loop: grok steps, logging cadence, early stop once the grok is confirmed."""

from __future__ import annotations

from typing import Any

import torch

from training import Split, Task, TrainConfig, Trainer, modular
from training.loop import Evaluation, confirmed_step, grok_step, memorised_step, train_logged


def _evals(accuracies: list[float]) -> list[Evaluation]:
    return [Evaluation(50 * (i + 1), 1.0, a) for i, a in enumerate(accuracies)]


def test_grok_and_confirmed_steps() -> None:
    evaluations = _evals([0.1, 0.5, 0.91, 0.99, 0.97, 0.98, 0.99, 1.0])
    assert grok_step(evaluations) == 150
    assert confirmed_step(evaluations) == 300
    assert grok_step(_evals([0.1, 0.89])) is None
    assert confirmed_step(_evals([0.99, 0.99, 0.5, 0.99])) is None


def test_memorised_step_is_the_first_training_accuracy_at_099() -> None:
    evaluations = [Evaluation(50 * (i + 1), a, 0.1) for i, a in enumerate([0.5, 0.98, 0.99, 1.0])]
    assert memorised_step(evaluations) == 150
    assert memorised_step(evaluations[:2]) is None


def test_train_logged_logs_every_evaluation_and_the_last_step() -> None:
    torch.set_num_threads(1)
    trainer = Trainer(modular("add", 7, 0.5, 0), TrainConfig(d_model=16, heads=2, layers=1))
    logged: list[tuple[int, dict[str, Any]]] = []
    seen: list[Evaluation] = []
    evaluations = train_logged(
        trainer, lambda step, **values: logged.append((step, values)), 23, eval_every=10,
        on_eval=seen.append,
    )  # fmt: skip
    assert [e.step for e in evaluations] == [10, 20, 23] == [s for s, _ in logged]
    assert seen == evaluations
    assert set(logged[0][1]) == {"train_acc", "test_acc", "train_loss", "test_loss", "param_norm"}
    norm = float(torch.cat([p.detach().reshape(-1) for p in trainer.model.parameters()]).norm())
    assert logged[-1][1]["param_norm"] == evaluations[-1].param_norm == norm
    accuracy, loss = trainer.evaluate(trainer.task.test)
    assert (accuracy, loss) == (evaluations[-1].test_acc, evaluations[-1].test_loss)
    assert trainer.step == 23


def test_train_logged_stops_once_the_grok_is_confirmed() -> None:
    torch.set_num_threads(1)
    pairs = torch.cartesian_prod(torch.arange(6), torch.arange(6))
    inputs, targets = pairs, pairs[:, 0]  # the answer is the first token: learnt fast
    even = pairs.sum(dim=1) % 2 == 0
    train, test = Split(inputs[even], targets[even]), Split(inputs[~even], targets[~even])
    task = Task("copy", train, test, vocab=6, classes=6)
    trainer = Trainer(task, TrainConfig(d_model=32, heads=2, layers=1, lr=1e-2, weight_decay=0.0))
    evaluations = train_logged(trainer, lambda step, **values: None, 2000, eval_every=5)
    assert confirmed_step(evaluations) is not None
    assert trainer.step == evaluations[-1].step < 2000
