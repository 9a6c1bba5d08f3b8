"""The commutator-defect probe: exact on quadratic losses, harmless to training, never raises."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
import torch

from producer.probe import CommutatorProbe, commutator_defect


class Quadratic(torch.nn.Module):
    """loss(theta; H, b) = theta'H theta / 2 - b'theta over one float64 parameter vector."""

    def __init__(self, theta: np.ndarray) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))


def quadratic_loss(model: Quadratic, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    h, b = batch
    return 0.5 * model.theta @ h @ model.theta - b @ model.theta


def _batch(rng: np.random.Generator, n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    a = rng.standard_normal((n, n))
    return torch.tensor(a @ a.T), torch.tensor(rng.standard_normal(n))


@pytest.mark.parametrize("eta", [1e-3, 0.1])
def test_defect_matches_the_closed_form_on_quadratics(eta: float) -> None:
    # For quadratics theta_AB - theta_BA = eta^2 (H_B g_A - H_A g_B) exactly, whatever eta.
    rng = np.random.default_rng(0)
    model = Quadratic(rng.standard_normal(4))
    (ha, ba), (hb, bb) = _batch(rng), _batch(rng)
    theta = model.theta.detach().numpy().copy()
    g_a, g_b = ha.numpy() @ theta - ba.numpy(), hb.numpy() @ theta - bb.numpy()
    expected = np.linalg.norm(hb.numpy() @ g_a - ha.numpy() @ g_b) / (
        np.linalg.norm(g_a) * np.linalg.norm(g_b)
    )
    got = commutator_defect(model, quadratic_loss, (ha, ba), (hb, bb), eta)
    assert got == pytest.approx(expected, rel=1e-9)


def test_steps_on_linear_losses_commute() -> None:
    rng = np.random.default_rng(1)
    model = Quadratic(rng.standard_normal(3))
    h = torch.zeros(3, 3, dtype=torch.float64)
    batches = (h, torch.tensor(rng.standard_normal(3))), (h, torch.tensor(rng.standard_normal(3)))
    assert commutator_defect(model, quadratic_loss, *batches) == pytest.approx(0.0, abs=1e-9)


def test_probe_leaves_parameters_grads_and_optimizer_untouched() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data = torch.randn(64, 5), torch.randint(2, (64,))

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(net(batch[0]), batch[1])

    loss_fn(model, data).backward()
    optimizer.step()
    before = [p.detach().clone() for p in model.parameters()]
    grads = [p.grad.clone() for p in model.parameters()]
    state = {k: v["exp_avg"].clone() for k, v in enumerate(optimizer.state.values())}
    logged: list[tuple[int, dict[str, float]]] = []
    probe = CommutatorProbe(model, loss_fn, lambda: data, every=10, pairs=3,
                            log=lambda step, **kw: logged.append((step, kw)))  # fmt: skip
    assert probe.after_step(9) is None
    value = probe.after_step(10)
    assert value is not None and value > 0.0
    assert logged == [(10, {"commutator_defect": value})]
    for p, b, g in zip(model.parameters(), before, grads, strict=True):
        assert torch.equal(p.detach(), b) and torch.equal(p.grad, g)
    for k, v in enumerate(optimizer.state.values()):
        assert torch.equal(v["exp_avg"], state[k])


def test_probe_takes_the_median_of_its_pairs() -> None:
    rng = np.random.default_rng(2)
    model = Quadratic(rng.standard_normal(4))
    batches = iter([_batch(rng) for _ in range(10)])
    pairs = [(next(batches), next(batches)) for _ in range(5)]
    values = sorted(commutator_defect(model, quadratic_loss, a, b) for a, b in pairs)
    flat = iter([b for pair in pairs for b in pair])
    probe = CommutatorProbe(
        model, quadratic_loss, lambda: next(flat), pairs=5, log=lambda step, **kw: None
    )
    assert probe.measure() == pytest.approx(values[2], rel=1e-12)


def test_probe_never_raises_and_switches_itself_off(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def broken(model: Any, batch: Any) -> torch.Tensor:
        calls.append(1)
        raise RuntimeError("boom")

    probe = CommutatorProbe(
        torch.nn.Linear(2, 1), broken, lambda: None, every=1, log=lambda step, **kw: None
    )
    with caplog.at_level(logging.ERROR, logger="producer.probe"):
        assert probe.after_step(1) is None
        assert probe.after_step(2) is None
    assert not probe.enabled
    assert len(calls) == 1
    assert "commutator probe failed" in caplog.text


def test_probe_without_a_watch_is_a_no_op() -> None:
    model = torch.nn.Linear(3, 1)
    data = torch.randn(8, 3), torch.randn(8, 1)
    probe = CommutatorProbe(
        model, lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(), lambda: data, every=1, pairs=1
    )
    assert probe.after_step(1) is not None


@pytest.mark.parametrize("kwargs", [{"every": 0}, {"pairs": 0}, {"eta": 0.0}])
def test_probe_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CommutatorProbe(torch.nn.Linear(1, 1), lambda m, b: m.weight.sum(), lambda: None, **kwargs)
