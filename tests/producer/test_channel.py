"""The delivery channel shared by the sender thread and `sync`, over real loopback sockets."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

from producer.buffer import Buffer
from producer.channel import Channel
from producer.config import ProducerConfig
from producer.connection import connect_dealer
from producer.resend import ResendTimer
from producer.wire import Kind, Message, decode, encode, encode_ack

HWM = 100


def frames(seq: int) -> list[bytes]:
    return encode(Message(Kind.SCALARS, "run-channel", seq, step=seq, body={"values": {"x": 1.0}}))


class Sockets:
    """Sockets of one context, all closed with linger 0 after the test."""

    def __init__(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.opened: list[zmq.Socket[bytes]] = []

    def dealer(self, endpoint: str) -> zmq.Socket[bytes]:
        """A DEALER connected as the producer connects one."""
        config = ProducerConfig(endpoint=endpoint, linger_ms=0)
        self.opened.append(connect_dealer(self.context, config, HWM))
        return self.opened[-1]

    def router(self) -> tuple[zmq.Socket[bytes], str]:
        """A bare ROUTER on a free loopback port, and its endpoint."""
        socket: zmq.Socket[bytes] = self.context.socket(zmq.ROUTER)
        self.opened.append(socket)
        socket.bind("tcp://127.0.0.1:*")
        return socket, socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def close(self) -> None:
        for socket in self.opened:
            socket.close(linger=0)
        self.context.term()


@pytest.fixture
def sockets() -> Iterator[Sockets]:
    tracker = Sockets()
    yield tracker
    tracker.close()


def settle(channel: Channel, socket: zmq.Socket[bytes], done: Callable[[], bool]) -> None:
    """Flush and read acknowledgements on the real clock until `done()` (at most 5 s)."""
    deadline = time.monotonic() + 5
    while not done() and time.monotonic() < deadline:
        channel.flush(socket, time.monotonic())
        if socket.poll(10, zmq.POLLIN):
            channel.read_acks(socket, time.monotonic())
    assert done()


def test_a_backlog_leaves_in_order_once_the_analyzer_is_up(
    sockets: Sockets, dead_endpoint: str, make_router: Callable[..., Any]
) -> None:
    socket = sockets.dealer(dead_endpoint)
    channel = Channel(Buffer(10), ResendTimer(30.0))
    for seq in range(5):
        channel.offer(socket, seq, frames(seq), time.monotonic())
    assert (channel.backlog, len(channel), channel.sent) == (5, 5, 0)
    router = make_router(bind=dead_endpoint)
    settle(channel, socket, lambda: len(channel) == 0)
    assert [m.seq for m in router.received()] == [0, 1, 2, 3, 4]
    assert (channel.sent, channel.acked, channel.resent, channel.backlog) == (5, 5, 0, 0)
    assert channel.timer.srtt is not None  # acknowledgements of single sends are sampled


def test_a_message_never_sent_is_not_resent(sockets: Sockets, dead_endpoint: str) -> None:
    socket = sockets.dealer(dead_endpoint)
    channel = Channel(Buffer(10), ResendTimer(1.0))
    channel.offer(socket, 0, frames(0), 0.0)
    assert channel.resend_due(socket, 100.0) == 0
    assert (channel.backlog, channel.sent, channel.resent, channel.timer.backoff) == (1, 0, 0, 1)


def test_overdue_messages_are_resent_and_the_timer_backs_off(
    sockets: Sockets, make_router: Callable[..., Any]
) -> None:
    router = make_router(ack=False)
    socket = sockets.dealer(router.endpoint)
    channel = Channel(Buffer(10), ResendTimer(1.0))
    for seq in range(4):
        channel.offer(socket, seq, frames(seq), 0.0)
    deadline = time.monotonic() + 5
    while channel.backlog and time.monotonic() < deadline:
        channel.flush(socket, 0.0)  # the clock stands still at 0 until every message is out
    assert channel.backlog == 0 and channel.sent == 4
    assert channel.resend_due(socket, 0.99) == 0
    assert channel.resend_due(socket, 1.0) == 4 and channel.timer.backoff == 2
    assert channel.resend_due(socket, 2.99) == 0
    assert channel.resend_due(socket, 3.0) == 4 and channel.timer.backoff == 4
    assert router.wait_for(lambda messages: len(messages) == 12)
    assert [m.seq for m in router.received()] == [0, 1, 2, 3] * 3
    assert (channel.resent, channel.acked, len(channel)) == (8, 0, 4)


def test_bad_acknowledgements_are_logged_once_and_ignored(
    sockets: Sockets, caplog: pytest.LogCaptureFixture
) -> None:
    router, endpoint = sockets.router()
    socket = sockets.dealer(endpoint)
    channel = Channel(Buffer(10), ResendTimer(30.0))
    channel.offer(socket, 7, frames(7), time.monotonic())
    settle(channel, socket, lambda: channel.sent == 1)
    assert router.poll(5000, zmq.POLLIN)
    peer = router.recv_multipart()[0]
    for reply in ([b"junk"], [b"two", b"frames"], encode_ack([7])):
        router.send_multipart([peer, *reply])
    with caplog.at_level(logging.WARNING, logger="producer.channel"):
        settle(channel, socket, lambda: len(channel) == 0)
    assert channel.acked == 1
    warnings = [r.message for r in caplog.records if "bad acknowledgement" in r.message]
    assert len(warnings) == 1


def _seqs(router: zmq.Socket[bytes], count: int) -> dict[bytes, list[int]]:
    """The seqs of the next `count` messages the bare ROUTER got, by sender identity."""
    got: dict[bytes, list[int]] = {}
    for _ in range(count):
        assert router.poll(5000, zmq.POLLIN)
        peer, *message = router.recv_multipart()
        got.setdefault(peer, []).append(decode(message).seq)
    return got


def test_a_wait_holds_resends_until_it_ends_then_everything_goes_again(sockets: Sockets) -> None:
    router, endpoint = sockets.router()
    socket = sockets.dealer(endpoint)
    channel = Channel(Buffer(10), ResendTimer(1.0))
    for seq in range(3):
        channel.offer(socket, seq, frames(seq), 0.0)
    settle(channel, socket, lambda: channel.sent == 3)
    ((peer, seqs),) = _seqs(router, 3).items()
    assert seqs == [0, 1, 2]
    router.send_multipart([peer, *encode_ack([0], wait=5.0)])  # owned elsewhere: wait 5 s
    assert socket.poll(5000, zmq.POLLIN)
    now = time.monotonic()
    assert channel.read_acks(socket, now) == 1 and channel.acked == 1
    assert channel.resend_due(socket, now + 4.9) == 0  # the resend timer (1 s) waits for it
    assert channel.resend_due(socket, now + 5.1) == 2 and channel.timer.backoff == 1
    assert list(_seqs(router, 2).values()) == [[1, 2]]


def test_a_restart_sends_every_held_message_again_in_order(sockets: Sockets) -> None:
    router, endpoint = sockets.router()
    channel = Channel(Buffer(10), ResendTimer(30.0))
    first = sockets.dealer(endpoint)
    for seq in range(3):
        channel.offer(first, seq, frames(seq), 0.0)
    settle(channel, first, lambda: channel.sent == 3)
    second = sockets.dealer(endpoint)  # another analyzer, as after a failover
    channel.restart(second, 1.0)
    settle(channel, second, lambda: channel.backlog == 0)
    assert (channel.sent, channel.resent) == (3, 3)
    assert sorted(_seqs(router, 6).values()) == [[0, 1, 2], [0, 1, 2]]  # in order on each
