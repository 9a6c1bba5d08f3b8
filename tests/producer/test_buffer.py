"""The unacknowledged-message buffer, a pure policy driven with an explicit clock."""

from __future__ import annotations

import pytest

from producer.buffer import Buffer


def frames(seq: int) -> list[bytes]:
    return [f"m{seq}".encode()]


def test_ack_releases_messages() -> None:
    buffer = Buffer(10)
    for seq in range(4):
        buffer.add(seq, frames(seq), now=0.0)
    assert len(buffer) == 4
    assert buffer.ack([1, 3, 3, 99]) == 2
    assert len(buffer) == 2 and 0 in buffer and 1 not in buffer


def test_full_buffer_drops_the_oldest_and_counts() -> None:
    buffer = Buffer(3)
    for seq in range(5):
        buffer.add(seq, frames(seq), now=float(seq))
    assert buffer.dropped == 2
    assert [seq for seq in range(5) if seq in buffer] == [2, 3, 4]


def test_due_returns_overdue_messages_oldest_first_and_rearms_them() -> None:
    buffer = Buffer(10)
    buffer.add(0, frames(0), now=0.0)
    buffer.add(1, frames(1), now=1.0)
    buffer.add(2, frames(2), now=2.0)
    assert buffer.due(now=1.5, resend_after=2.0) == []
    assert buffer.due(now=3.0, resend_after=2.0) == [(0, frames(0)), (1, frames(1))]
    assert buffer.due(now=3.5, resend_after=2.0) == []
    assert buffer.due(now=5.0, resend_after=2.0) == [(0, frames(0)), (1, frames(1)), (2, frames(2))]


def test_acked_and_dropped_messages_are_never_due() -> None:
    buffer = Buffer(2)
    buffer.add(0, frames(0), now=0.0)
    buffer.add(1, frames(1), now=0.0)
    buffer.add(2, frames(2), now=0.0)
    buffer.ack([1])
    assert buffer.due(now=10.0, resend_after=1.0) == [(2, frames(2))]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Buffer(0)


def test_mark_sent_restarts_the_resend_timer() -> None:
    buffer = Buffer(4)
    buffer.add(0, frames(0), now=0.0)
    buffer.mark_sent(0, now=5.0)
    buffer.mark_sent(7, now=5.0)
    assert buffer.due(now=6.0, resend_after=2.0) == []
    assert buffer.due(now=7.0, resend_after=2.0) == [(0, frames(0))]
    assert buffer.frames(0) == frames(0) and buffer.frames(7) is None


def test_delays_are_sampled_from_messages_sent_once() -> None:
    buffer = Buffer(10)
    buffer.add(0, frames(0), now=0.0)
    buffer.add(1, frames(1), now=1.0)
    buffer.add(2, frames(2), now=2.5)
    assert buffer.due(now=2.5, resend_after=2.0) == [(0, frames(0))]
    assert buffer.delays([0, 1, 2, 7], now=3.0) == [2.0, 0.5]
    buffer.ack([0])
    buffer.add(0, frames(0), now=3.0)
    assert buffer.delays([0], now=3.5) == [0.5]


def test_a_message_armed_twice_at_one_instant_is_due_once() -> None:
    buffer = Buffer(10)
    buffer.add(0, frames(0), now=1.0)
    buffer.mark_sent(0, now=1.0)
    assert buffer.due(now=2.0, resend_after=0.5) == [(0, frames(0))]
    assert buffer.due(now=2.5, resend_after=0.5) == [(0, frames(0))]
