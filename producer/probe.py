"""The commutator-defect probe (design section 8): an optional early signal of grokking.

For two fresh mini-batches A and B and a step size eta, let
theta_AB = theta - eta g_A(theta) - eta g_B(theta - eta g_A(theta)) and theta_BA likewise with A
and B swapped. The defect is D = ||theta_AB - theta_BA|| / (||eta g_A|| ||eta g_B||): how far two
SGD steps fail to commute. `CommutatorProbe` measures the median D over `pairs` batch pairs every
`every` steps and sends it with the producer's `log(step, commutator_defect=D)`; the analyzer's
alarm compares it with the run's own early baseline. Pure torch (imported lazily), it restores the
parameters exactly, never touches `.grad` or the optimizer, and never raises into training: the
first error is logged and the probe switches itself off.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

LossFn = Callable[[Any, Any], Any]
"""`loss_fn(model, batch) -> scalar loss tensor`."""


def _grads(model: Any, params: Sequence[Any], loss_fn: LossFn, batch: Any) -> list[Any]:
    import torch

    loss = loss_fn(model, batch)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    pairs = zip(params, grads, strict=True)
    return [torch.zeros_like(p) if g is None else g.detach() for p, g in pairs]


def _shifted(model: Any, params: Sequence[Any], shift: Sequence[Any], eta: float, loss_fn: LossFn,
             batch: Any) -> list[Any]:  # fmt: skip
    """Gradients on `batch` at theta - eta * shift (the parameters are restored afterwards)."""
    import torch

    saved = [p.detach().clone() for p in params]
    try:
        with torch.no_grad():
            for p, s in zip(params, shift, strict=True):
                p.sub_(eta * s)
        return _grads(model, params, loss_fn, batch)
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)


def commutator_defect(model: Any, loss_fn: LossFn, batch_a: Any, batch_b: Any,
                      eta: float = 1e-3) -> float:  # fmt: skip
    """D for one pair of batches at the model's current parameters (restored exactly)."""
    params = [p for p in model.parameters() if p.requires_grad]
    g_a = _grads(model, params, loss_fn, batch_a)
    g_b = _grads(model, params, loss_fn, batch_b)
    g_b_after_a = _shifted(model, params, g_a, eta, loss_fn, batch_b)
    g_a_after_b = _shifted(model, params, g_b, eta, loss_fn, batch_a)
    # theta_AB - theta_BA = eta (g_b + g_a_after_b - g_a - g_b_after_a); D = that / eta^2|g_a||g_b|
    terms = zip(g_a, g_b, g_b_after_a, g_a_after_b, strict=True)
    diff = [b + ab - a - ba for a, b, ba, ab in terms]
    denominator = eta * _norm(g_a) * _norm(g_b)
    return _norm(diff) / denominator if denominator > 0.0 else 0.0


def _norm(tensors: Sequence[Any]) -> float:
    """The Euclidean norm of a list of tensors taken as one vector (in float64)."""
    return math.sqrt(sum(float((t.double() ** 2).sum()) for t in tensors))


class CommutatorProbe:
    """Every `every` steps: median D over `pairs` pairs of batches drawn by `sample()`, logged."""

    def __init__(
        self,
        model: Any,
        loss_fn: LossFn,
        sample: Callable[[], Any],
        *,
        every: int = 100,
        pairs: int = 5,
        eta: float = 1e-3,
        log: Callable[..., None] | None = None,
    ) -> None:
        if every < 1 or pairs < 1 or not eta > 0.0:
            raise ValueError("every and pairs must be >= 1 and eta > 0")
        self.model, self.loss_fn, self.sample = model, loss_fn, sample
        self.every, self.pairs, self.eta = every, pairs, eta
        self.log = log
        self.enabled = True

    def measure(self) -> float:
        """The median defect over `pairs` fresh batch pairs, now."""
        values = [
            commutator_defect(self.model, self.loss_fn, self.sample(), self.sample(), self.eta)
            for _ in range(self.pairs)
        ]
        return float(statistics.median(values))

    def after_step(self, step: int) -> float | None:
        """Measure and log at multiples of `every`; None otherwise, after an error, or when off."""
        if not self.enabled or step % self.every != 0:
            return None
        try:
            value = self.measure()
            self._emit(step, value)
        except Exception:
            logger.exception("commutator probe failed; it is off for the rest of the run")
            self.enabled = False
            return None
        return value

    def _emit(self, step: int, value: float) -> None:
        if self.log is not None:
            self.log(step, commutator_defect=value)
            return
        from producer.hooks import log

        log(step, commutator_defect=value)
