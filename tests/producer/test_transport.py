"""The sender thread against a real ZeroMQ ROUTER on a loopback port."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import zmq

from producer.config import ProducerConfig
from producer.connection import warn_if_plaintext
from producer.transport import Sender
from producer.wire import Kind, Message


def seqs(messages: list[Message]) -> list[int]:
    """Sequence numbers relative to the first one (a sender starts at the epoch microseconds)."""
    return [message.seq - messages[0].seq for message in messages] if messages else []


def test_messages_arrive_in_order_numbered_and_acked(
    router: Any, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint=router.endpoint), "run-order", rank=0, world=1)
    sender.send(Kind.START, body={"every": 1})
    sender.start()
    for step in range(5):
        sender.send(Kind.SCALARS, step=step, body={"values": {"loss": float(step)}})
    sender.send(Kind.SKETCH, step=5, index=1, d=4, payload=np.arange(4.0))
    sender.close(timeout=3.0, step=5)
    received = router.received()
    assert seqs(received) == list(range(8))
    assert [m.kind for m in received] == [Kind.START, *[Kind.SCALARS] * 5, Kind.SKETCH, Kind.FINISH]
    assert received[-1].body == {"status": "finished", "dropped": 0, "base": received[0].seq}
    assert np.array_equal(received[6].payload, np.arange(4.0))
    assert (sender.sent, sender.acked, sender.resent, sender.dropped) == (8, 8, 0, 0)
    assert sender.pending == 0


def test_unacked_messages_are_resent(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    router = make_router(ignore_first=True)
    sender = Sender(fast_config(endpoint=router.endpoint, resend_after=0.1), "run-resend")
    sender.start()
    for step in range(3):
        sender.send(Kind.SCALARS, step=step, body={"values": {"loss": 1.0}})
    sender.close(timeout=5.0)
    received = seqs(router.received())
    assert sorted(set(received)) == [0, 1, 2, 3]
    assert all(received.count(seq) >= 2 for seq in range(4))
    assert sender.resent >= 4 and sender.acked == 4 and sender.pending == 0


def test_resends_back_off_while_nothing_is_acknowledged(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    """Unanswered for 2.5 s at a 0.05 s floor: the gaps between redeliveries grow."""
    router = make_router(ack=False)
    sender = Sender(fast_config(endpoint=router.endpoint, resend_after=0.05), "run-backoff")
    sender.start()
    sender.send(Kind.SCALARS, body={"values": {"loss": 1.0}})
    arrivals: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < 2.5:
        if len(router.received()) > len(arrivals):
            arrivals.append(time.monotonic())
        time.sleep(0.005)
    received = len(router.received())
    sender.close(timeout=0.1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert 3 <= received <= 6, gaps  # one resend per 0.25 s tick without the backoff: ~10
    assert gaps[-1] >= 2 * gaps[0] and sender.timer.backoff >= 8, gaps


def test_messages_sent_before_the_analyzer_starts_are_delivered(
    dead_endpoint: str,
    make_router: Callable[..., Any],
    fast_config: Callable[..., ProducerConfig],
) -> None:
    sender = Sender(fast_config(endpoint=dead_endpoint, resend_after=30.0), "run-late")
    sender.start()
    for step in range(3):
        sender.send(Kind.SCALARS, step=step, body={"values": {"x": 1.0}})
    time.sleep(0.2)
    router = make_router(bind=dead_endpoint)
    sender.close(timeout=5.0)
    assert seqs(router.received()) == [0, 1, 2, 3]
    assert (sender.sent, sender.acked, sender.resent) == (4, 4, 0)


def test_close_is_bounded_when_no_analyzer_listens(
    dead_endpoint: str, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint=dead_endpoint, linger_ms=200), "run-dead")
    sender.start()
    sender.send(Kind.START)
    began = time.monotonic()
    sender.close(timeout=0.3)
    assert time.monotonic() - began < 2.0
    assert sender.acked == 0 and sender.pending == 2
    assert not any(t.name == "spectral-edge-run-dead" for t in threading.enumerate())


def test_full_buffer_drops_and_reports_in_heartbeats(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    router = make_router(ack=False)
    config = fast_config(endpoint=router.endpoint, buffer_max=3, heartbeat=0.05)
    sender = Sender(config, "run-drop")
    for step in range(10):
        sender.send(Kind.SCALARS, step=step, body={"values": {"x": 1.0}})
    sender.start()

    def beat_reports_drops(messages: list[Message]) -> bool:
        return any(m.kind is Kind.HEARTBEAT and m.body["dropped"] >= 7 for m in messages)

    assert router.wait_for(beat_reports_drops)
    sender.close(timeout=0.2)
    assert sender.dropped >= 8 and sender.pending == 3
    finish = [m for m in router.received() if m.kind is Kind.FINISH]
    assert finish and finish[0].body["dropped"] >= 8


def test_thread_failure_degrades_to_no_op(
    caplog: pytest.LogCaptureFixture, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint="tcp://127.0.0.1:notaport"), "run-broken")
    sender.start()
    deadline = time.monotonic() + 5
    while not sender.failed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sender.failed
    sender.send(Kind.SCALARS, body={"values": {"x": 1.0}})
    began = time.monotonic()
    sender.close()
    assert time.monotonic() - began < 0.5
    assert sum("sender stopped" in r.message for r in caplog.records) == 1


def test_unencodable_message_is_skipped_without_a_gap(
    router: Any, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint=router.endpoint), "run-invalid")
    sender.start()
    sender.send(Kind.SCALARS, body={"values": {"x": object()}})
    sender.send(Kind.SCALARS, body={"values": {"x": 1.0}})
    sender.close(timeout=3.0)
    assert seqs(router.received()) == [0, 1]
    assert sender.invalid == 1


def test_restarted_receiver_gets_resends_and_applies_each_once(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    """The first receiver stores but dies before acknowledging; the second one de-duplicates."""
    store: dict[tuple[str, int, int], Message] = {}
    first = make_router(ack=False, store=store)
    sender = Sender(fast_config(endpoint=first.endpoint, resend_after=0.1), "run-restart")
    sender.start()
    for step in range(5):
        sender.send(Kind.SCALARS, step=step, body={"values": {"x": float(step)}})
    assert first.wait_for(lambda messages: len(messages) >= 5)
    first.close()
    for step in range(5, 8):
        sender.send(Kind.SCALARS, step=step, body={"values": {"x": float(step)}})
    second = make_router(bind=first.endpoint, store=store)
    sender.close(timeout=5.0)
    delivered = len(first.received()) + len(second.received())
    kinds = sorted((m.kind, m.step) for m in store.values())
    assert kinds == [(Kind.FINISH, 0), *((Kind.SCALARS, step) for step in range(8))]
    assert delivered > len(store)  # some messages arrived twice and were applied once
    assert sender.acked == 9 and sender.pending == 0


def test_byte_bound_drops_oldest(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    router = make_router(ack=False)
    sender = Sender(fast_config(endpoint=router.endpoint, buffer_bytes=20_000), "run-bytes")
    sender.start()
    for step in range(20):
        sender.send(Kind.SKETCH, step=step, index=step, d=256, payload=np.ones(256))
    assert router.wait_for(lambda messages: len(messages) >= 20)
    sender.close(timeout=0.2)
    assert sender._buffer.bytes <= 20_000 and sender.pending <= 1 + 20_000 // 2048
    assert sender.dropped == 21 - sender.pending  # 20 sketches and FINISH, none acknowledged


def test_curve_encrypts_to_a_keyed_analyzer(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    server_public, server_secret = zmq.curve_keypair()
    router = make_router(curve_secret=server_secret)
    client_public, client_secret = zmq.curve_keypair()
    keyed = fast_config(
        endpoint=router.endpoint,
        server_key=server_public.decode(),
        public_key=client_public.decode(),
        secret_key=client_secret.decode(),
    )
    sender = Sender(keyed, "run-curve")
    sender.start()
    sender.send(Kind.SCALARS, body={"values": {"x": 1.0}})
    sender.close(timeout=3.0)
    assert [m.kind for m in router.received()] == [Kind.SCALARS, Kind.FINISH]
    assert sender.acked == 2
    server_only = fast_config(endpoint=router.endpoint, server_key=server_public.decode())
    ephemeral = Sender(server_only, "run-ephemeral")
    ephemeral.start()
    ephemeral.close(timeout=3.0)
    assert ephemeral.acked == 1


def test_plain_client_cannot_talk_to_a_curve_analyzer(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    _, server_secret = zmq.curve_keypair()
    router = make_router(curve_secret=server_secret)
    sender = Sender(fast_config(endpoint=router.endpoint), "run-plain")
    sender.start()
    sender.send(Kind.SCALARS, body={"values": {"x": 1.0}})
    began = time.monotonic()
    sender.close(timeout=0.5)
    assert time.monotonic() - began < 2.0
    assert router.received() == [] and sender.acked == 0


def test_non_coordinator_close_sends_a_heartbeat_not_finish(
    router: Any, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint=router.endpoint), "run-rank1", rank=1, world=2)
    sender.start()
    sender.close(timeout=3.0, announce=False)
    assert [(m.kind, m.rank) for m in router.received()] == [(Kind.HEARTBEAT, 1)]


def test_sequence_numbers_of_a_restarted_process_do_not_repeat(
    router: Any, fast_config: Callable[..., ProducerConfig]
) -> None:
    for _ in range(2):
        sender = Sender(fast_config(endpoint=router.endpoint), "run-again")
        sender.start()
        sender.send(Kind.SCALARS, body={"values": {"x": 1.0}})
        sender.close(timeout=3.0)
    numbers = [m.seq for m in router.received()]
    assert len(numbers) == 4 and numbers == sorted(set(numbers))


def test_plain_text_outside_loopback_is_warned_about(
    caplog: pytest.LogCaptureFixture, fast_config: Callable[..., ProducerConfig]
) -> None:
    """Checked without connecting: the test never contacts a non-loopback host."""
    server_public, _ = zmq.curve_keypair()
    assert not warn_if_plaintext(fast_config(endpoint="tcp://127.0.0.1:1"))
    assert not warn_if_plaintext(fast_config(endpoint="ipc:///tmp/analyzer"))
    keyed = fast_config(endpoint="tcp://10.0.0.7:5555", server_key=server_public.decode())
    assert not warn_if_plaintext(keyed)
    assert warn_if_plaintext(fast_config(endpoint="tcp://10.0.0.7:5555"))
    warnings = [r.message for r in caplog.records if "without CURVE" in r.message]
    assert warnings == ["spectral-edge sends to tcp://10.0.0.7:5555 without CURVE (no server_key)"]
