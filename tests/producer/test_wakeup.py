"""The wake-up pipe: readable for a ZeroMQ poller after `set()`, quiet again after `clear()`."""

from __future__ import annotations

import threading

import zmq

from producer.wakeup import Wakeup


def readable(wakeup: Wakeup, timeout_ms: int = 0) -> bool:
    poller = zmq.Poller()
    poller.register(wakeup.fileno(), zmq.POLLIN)
    return bool(poller.poll(timeout_ms))


def test_set_wakes_a_poller_and_clear_resets() -> None:
    wakeup = Wakeup()
    assert not readable(wakeup)
    for _ in range(100_000):  # more than a pipe holds: a full pipe is still a signal
        wakeup.set()
    assert readable(wakeup)
    wakeup.clear()
    assert not readable(wakeup)


def test_set_from_another_thread_ends_a_long_poll() -> None:
    wakeup = Wakeup()
    timer = threading.Timer(0.05, wakeup.set)
    timer.start()
    assert readable(wakeup, timeout_ms=5000)
    timer.join()
