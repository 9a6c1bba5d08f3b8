"""Fixtures of the producer tests: ZeroMQ ROUTERs standing in for the analyzer, a tiny model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
import zmq

from producer.config import ProducerConfig
from tests.support.zmq_router import Router


@pytest.fixture
def make_router() -> Iterator[Callable[..., Router]]:
    """Factory of routers, all closed after the test."""
    routers: list[Router] = []

    def make(**options: Any) -> Router:
        routers.append(Router(**options))
        return routers[-1]

    yield make
    for router in routers:
        router.close()


@pytest.fixture
def router(make_router: Callable[..., Router]) -> Router:
    """A router that acknowledges every message."""
    return make_router()


@pytest.fixture
def dead_endpoint() -> str:
    """A loopback endpoint nobody listens on."""
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind("tcp://127.0.0.1:*")
    endpoint = socket.getsockopt_string(zmq.LAST_ENDPOINT)
    socket.close(linger=0)
    context.term()
    return endpoint


@pytest.fixture
def fast_config() -> Callable[..., ProducerConfig]:
    """Configs with test-friendly timings (short resend and close timeouts, no linger)."""

    def make(**overrides: Any) -> ProducerConfig:
        settings: dict[str, Any] = {
            "heartbeat": 60.0,
            "resend_after": 0.2,
            "linger_ms": 0,
            "close_timeout": 3.0,
            **overrides,
        }
        return ProducerConfig(**settings)

    return make


def tiny_model(hidden: int = 3) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A seeded 4 -> hidden -> 2 tanh MLP and its SGD optimizer."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2)
    )
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """One SGD step on a random batch of 8."""
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
