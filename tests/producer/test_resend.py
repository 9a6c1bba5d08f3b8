"""The resend timer: floor, measured delay, backoff while unanswered, reset on a fresh ack."""

from __future__ import annotations

import pytest

from producer.resend import ResendTimer


def test_starts_at_the_floor_and_doubles_per_round_up_to_the_ceiling() -> None:
    timer = ResendTimer(floor=0.5, ceiling=3.0)
    timeouts = [timer.timeout]
    for _ in range(5):
        timer.expired()
        timeouts.append(timer.timeout)
    assert timeouts == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_a_fresh_acknowledgement_ends_the_backoff() -> None:
    timer = ResendTimer(floor=0.5)
    for _ in range(4):
        timer.expired()
    timer.sample(0.01)
    assert timer.timeout == 0.5


def test_a_slow_analyzer_stretches_the_timeout_past_its_delay() -> None:
    timer = ResendTimer(floor=0.5)
    for _ in range(20):
        timer.sample(2.0)
    assert timer.timeout == pytest.approx(2.0, rel=0.01)
    timer.sample(6.0)
    assert timer.timeout > 6.0


def test_the_floor_is_also_the_ceiling_when_larger() -> None:
    timer = ResendTimer(floor=90.0)
    timer.expired()
    assert timer.timeout == 90.0
