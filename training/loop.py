"""An instrumented training loop: train, evaluate, log to the producer, probe, stop once grokked.

The grok step of a run is the first evaluation with test accuracy >= GROK_LEVEL (0.90); it is
confirmed once test accuracy stayed >= CONFIRM_LEVEL (0.98) for CONFIRM_COUNT evaluations in a row.
The memorisation step is the first evaluation with training accuracy >= MEMORISED_LEVEL (0.99);
the gap of a grokking run is its grok step minus its memorisation step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from producer.probe import CommutatorProbe
from training.split import Split
from training.trainer import Trainer

GROK_LEVEL = 0.90
CONFIRM_LEVEL = 0.98
CONFIRM_COUNT = 3
MEMORISED_LEVEL = 0.99
TRAIN_SAMPLE = 1024


@dataclass(frozen=True)
class Evaluation:
    """Accuracies, test loss and parameter L2 norm measured after optimizer step `step`."""

    step: int
    train_acc: float
    test_acc: float
    test_loss: float = float("nan")
    param_norm: float = float("nan")


def grok_step(evaluations: Sequence[Evaluation], level: float = GROK_LEVEL) -> int | None:
    """The first step whose test accuracy reached `level`, or None."""
    return next((e.step for e in evaluations if e.test_acc >= level), None)


def memorised_step(evaluations: Sequence[Evaluation], level: float = MEMORISED_LEVEL) -> int | None:
    """The first step whose training accuracy reached `level`, or None."""
    return next((e.step for e in evaluations if e.train_acc >= level), None)


def confirmed_step(
    evaluations: Sequence[Evaluation], level: float = CONFIRM_LEVEL, count: int = CONFIRM_COUNT
) -> int | None:
    """The first step of `count` consecutive evaluations with test accuracy >= `level`, or None."""
    run = 0
    for i, evaluation in enumerate(evaluations):
        run = run + 1 if evaluation.test_acc >= level else 0
        if run == count:
            return evaluations[i - count + 1].step
    return None


def train_logged(
    trainer: Trainer,
    log: Callable[..., Any],
    steps: int,
    eval_every: int = 50,
    probe: CommutatorProbe | None = None,
    on_eval: Callable[[Evaluation], None] | None = None,
) -> list[Evaluation]:
    """Train up to `steps` steps; every `eval_every` log accuracies, losses and the norm.

    Training accuracy is measured on the first TRAIN_SAMPLE training examples, test accuracy on
    the whole test set. Stops early once the grok is confirmed. The probe (if any) runs after
    every step.
    """
    evaluations: list[Evaluation] = []
    task = trainer.task
    sample = Split(task.train.inputs[:TRAIN_SAMPLE], task.train.targets[:TRAIN_SAMPLE])
    while trainer.step < steps:
        loss = trainer.train_step()
        if probe is not None:
            probe.after_step(trainer.step)
        if trainer.step % eval_every and trainer.step != steps:
            continue
        test_acc, test_loss = trainer.evaluate(task.test)
        evaluation = Evaluation(
            trainer.step, trainer.accuracy(sample), test_acc, test_loss, trainer.param_norm()
        )
        evaluations.append(evaluation)
        log(trainer.step, train_acc=evaluation.train_acc, test_acc=test_acc, train_loss=loss,
            test_loss=test_loss, param_norm=evaluation.param_norm)  # fmt: skip
        if on_eval is not None:
            on_eval(evaluation)
        if confirmed_step(evaluations) is not None:
            break
    return evaluations
